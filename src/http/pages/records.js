// The recordings list: every finished file in record_dir (POST /rest-api/records/find_all), newest first,
// each with a link and a player.

const list = document.getElementById("records")
const template = document.getElementById("record")

const megabytes = (bytes) => `${(bytes / 1024 / 1024).toFixed(1)} MB`

const load = async () => {
  document.getElementById("error").textContent = ""
  const response = await fetch("/rest-api/records/find_all", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: "{}"
  })
  if (!response.ok) {
    document.getElementById("error").textContent = `${response.status} ${await response.text()}`
    return
  }
  const records = await response.json()
  list.replaceChildren(
    ...records.map(({ fileName, size, modified }) => {
      const item = template.content.cloneNode(true)
      const url = `/client/records/${encodeURIComponent(fileName)}`
      const link = item.querySelector(".link")
      link.href = url
      link.textContent = fileName
      item.querySelector(".details").textContent = `${megabytes(size)}, ${new Date(modified).toLocaleString()}`
      item.querySelector("video").src = url
      return item
    })
  )
  if (records.length === 0) list.textContent = "No recordings yet."
}

document.getElementById("refresh").addEventListener("click", load)
load().catch((error) => {
  document.getElementById("error").textContent = String(error)
})
