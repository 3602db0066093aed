/** Longest message a site's failure report carries (`ReportTaskFailureRequest.message`); longer ones are refused. */
export const MAX_SITE_FAILURE_MESSAGE_CHARS = 512;

/**
 * A site's failure message as it is stored and shown: control characters (line breaks, terminal
 * escapes) become spaces, so a message prints as one harmless line in a terminal or a log.
 */
export function printableFailureMessage(message: string): string {
  // eslint-disable-next-line no-control-regex
  return message.replace(/[\u0000-\u001f\u007f-\u009f]+/g, ' ').trim();
}
