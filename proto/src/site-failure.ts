/** Longest message a site's failure report carries (`ReportTaskFailureRequest.message`); longer ones are refused. */
export const MAX_SITE_FAILURE_MESSAGE_CHARS = 512;
