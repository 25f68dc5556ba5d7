/* cli.h — shared pieces of the gradmap command-line tool: the subcommands' entry points, option
 * parsing helpers and input expansion. Only the CLI's main() exits; everything here returns. */
#ifndef GM_CLI_H
#define GM_CLI_H

#include <stdio.h>

#include "host/status.h"

int gm_cmd_predict(int argc, char **argv);
int gm_cmd_info(int argc, char **argv);
int gm_cmd_explain(int argc, char **argv);
int gm_cmd_bench(int argc, char **argv);
int gm_cmd_audit(int argc, char **argv);

/* Prints "gradmap: <message>" for the last error and returns the exit code for `st`. */
int gm_cli_fail(gm_status st);

/* Strict integer parsing for flag values; the message names the flag. */
gm_status gm_cli_parse_int(const char *flag, const char *text, int min, int max, int *out);

/* A list of image paths expanded from the command line. */
typedef struct gm_path_list {
    char **paths;
    int count, cap;
} gm_path_list;

/* Expands INPUT arguments: an image file is taken as is, a directory contributes its image files
 * (sorted, recursively), a .txt/.lst file contributes one path per line (relative paths resolved
 * against the list file's folder; blank lines and # comments skipped). A missing input is an error
 * naming it. */
gm_status gm_cli_expand_inputs(char **inputs, int n_inputs, gm_path_list *out);
void gm_path_list_free(gm_path_list *list);

/* Monotonic clock in seconds, for progress lines. */
double gm_cli_now(void);

/* A malloc'd copy of s (NULL copies as ""), and a malloc'd printf; NULL when out of memory. */
char *gm_cli_strdup(const char *s);
char *gm_cli_printf(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

/* Median of n >= 1 values; sorts v ascending in place (callers read the extremes after). */
double gm_cli_median(double *v, int n);

/* Writes `text` JSON-escaped (without quotes). */
void gm_cli_json_string(FILE *f, const char *text);

#endif
