/**
 * One exit-status scheme for every command, so that a script can tell "nothing was done" from "done, but not
 * all of it" whatever the command. Each command's --help ends with EXIT_STATUS_HELP; the README repeats it.
 */
export const EXIT = {
  /** Everything was read (and sent). */
  ok: 0,
  /** Nothing was done: a usage or configuration error (bad option, bad config file, no region, refused URL). */
  usage: 1,
  /**
   * Incomplete: some input could not be read, or some output could not be delivered; everything else was done
   * and reported. scan: an unreadable file or line, a finding that could not be printed. hunt: a missing or
   * unreadable log group, a hunt stopped by repeated AWS errors (resumable). replay: messages that failed or
   * could not be read (left in the queue). test-alert: Slack or SNS did not take the test alert.
   */
  incomplete: 2,
  /** A bug: an error no command expected (sysexits' EX_SOFTWARE). */
  internal: 70,
  /** Stopped by Ctrl-C (128 + SIGINT, as shells report it). */
  interrupted: 130,
} as const;

export const EXIT_STATUS_HELP = `Exit status (every command): 0 done; 1 usage or configuration error, nothing done; 2 incomplete: some
input could not be read or some output not delivered, the rest was done and reported; 130 interrupted
(Ctrl-C); 70 internal error (a bug).`;
