/**
 * The mixed picture's timeline, as pure functions: who is present when (from the media edits of the video tracks),
 * cut into segments during which the set of participants does not change, and the grid of cells each segment's
 * participants get (1 full frame, 2 side by side, 3-4 in 2x2, 5-6 in 3x2, 7-9 in 3x3, then 4 columns and so on).
 */

/** A span of the file's timeline in seconds, start inclusive, end exclusive. */
export interface Span {
  readonly start: number
  readonly end: number
}

/** One participant of the picture: the spans in which it has video. */
export interface LayoutSource {
  readonly id: string
  readonly spans: ReadonlyArray<Span>
}

/** A stretch of the timeline with one set of participants, listed in grid order (by first appearance). */
export interface Segment {
  readonly start: number
  readonly end: number
  readonly present: ReadonlyArray<string>
}

export interface Cell {
  readonly x: number
  readonly y: number
  readonly width: number
  readonly height: number
}

/** Rounds a time to the nearest frame boundary of a `fps` grid (segment boundaries fall on output frames). */
export const snap = (seconds: number, fps: number): number => Math.round(seconds * fps) / fps

/** A source's spans on the frame grid; spans that vanish when snapped are dropped. */
export const snapSpans = (spans: ReadonlyArray<Span>, fps: number): ReadonlyArray<Span> =>
  spans.map((span) => ({ start: snap(span.start, fps), end: snap(span.end, fps) })).filter((s) => s.end > s.start)

const covers = (spans: ReadonlyArray<Span>, start: number, end: number): boolean =>
  spans.some((span) => span.start <= start && span.end >= end)

/**
 * Cuts [0, duration) into segments at every start and end of a source's span and at `extraCuts` (e.g. where an
 * audio track starts, so each segment's inputs begin together), all snapped to the `fps` frame grid. The segments
 * tile the whole duration; a segment where nobody has video has `present` empty (a black picture). Neighbours with
 * the same participants stay apart: each cut is where some track starts or ends, so a segment's inputs change there.
 */
export const timeline = (
  sources: ReadonlyArray<LayoutSource>,
  duration: number,
  fps: number,
  extraCuts: ReadonlyArray<number> = []
): ReadonlyArray<Segment> => {
  const end = snap(duration, fps)
  if (!(end > 0)) return []
  const snapped = sources.map((source) => ({ id: source.id, spans: snapSpans(source.spans, fps) }))
  const order = snapped
    .filter((source) => source.spans.length > 0)
    .map((source) => ({ id: source.id, first: Math.min(...source.spans.map((span) => span.start)) }))
    .sort((a, b) => a.first - b.first || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    .map((source) => snapped.find((s) => s.id === source.id)!)
  const cuts = new Set<number>([0, end])
  for (const source of snapped) {
    for (const span of source.spans) {
      cuts.add(span.start)
      cuts.add(span.end)
    }
  }
  for (const cut of extraCuts) cuts.add(snap(cut, fps))
  const points = [...cuts].filter((t) => t >= 0 && t <= end).sort((a, b) => a - b)
  const segments: Array<Segment> = []
  for (let i = 0; i + 1 < points.length; i++) {
    const [from, to] = [points[i]!, points[i + 1]!]
    segments.push({ start: from, end: to, present: order.filter((s) => covers(s.spans, from, to)).map((s) => s.id) })
  }
  return segments
}

/** Columns and rows of the grid for `count` participants. */
export const gridOf = (count: number): { readonly columns: number; readonly rows: number } => {
  const columns = Math.max(1, Math.ceil(Math.sqrt(count)))
  return { columns, rows: Math.max(1, Math.ceil(count / columns)) }
}

const even = (value: number): number => Math.floor(value / 2) * 2

/**
 * The cells of `count` participants on a `width` x `height` picture, row by row; sizes are even (4:2:0 chroma).
 * A last row that is not full is centred.
 */
export const cellsOf = (count: number, width: number, height: number): ReadonlyArray<Cell> => {
  const { columns, rows } = gridOf(count)
  const cellWidth = even(width / columns)
  const cellHeight = even(height / rows)
  const cells: Array<Cell> = []
  for (let i = 0; i < count; i++) {
    const row = Math.floor(i / columns)
    const inRow = row === rows - 1 ? count - row * columns : columns
    const offset = even((width - inRow * cellWidth) / 2)
    cells.push({ x: offset + (i % columns) * cellWidth, y: row * cellHeight, width: cellWidth, height: cellHeight })
  }
  return cells
}
