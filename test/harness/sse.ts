/**
 * Reads the Server-Sent Events of /v1/events as tests need them: the change events
 * (not `ready` or keep-alive comments), parsed, until enough have come.
 *
 * @example
 * const [created] = await readEvents(await zk.fetch("GET", "/v1/events/app"), 1);
 */

export interface StreamedEvent {
  event: string;
  id: string;
  data: { path: string; zxid: number };
}

/**
 * Reads change events from a response body until `until` of them came (a count),
 * or until one of them satisfies `until` (that one included); then cancels the stream.
 */
export async function readEvents(res: Response, until: number | ((e: StreamedEvent) => boolean)): Promise<StreamedEvent[]> {
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  const events: StreamedEvent[] = [];
  const done = () => (typeof until === "number" ? events.length >= until : events.length > 0 && until(events[events.length - 1]!));
  let buffer = "";
  while (!done()) {
    const { value, done: ended } = await reader.read();
    if (ended) break;
    buffer += value;
    let end: number;
    while (!done() && (end = buffer.indexOf("\n\n")) !== -1) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const fields = Object.fromEntries(block.split("\n").filter((l) => !l.startsWith(":")).map((l) => [l.slice(0, l.indexOf(":")), l.slice(l.indexOf(":") + 1).trim()]));
      if (fields.event && fields.event !== "ready") events.push({ event: fields.event, id: fields.id ?? "", data: JSON.parse(fields.data ?? "null") });
    }
  }
  await reader.cancel();
  return events;
}
