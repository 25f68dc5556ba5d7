/* cli_common.c — helpers shared by the subcommands: error reporting, strict number parsing and
 * the expansion of INPUT arguments (files, folders, list files) into image paths. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include "cli.h"

int gm_cli_fail(gm_status st) {
    fprintf(stderr, "gradmap: error: %s\n", gm_last_error());
    return gm_status_exit_code(st);
}

gm_status gm_cli_parse_int(const char *flag, const char *text, int min, int max, int *out) {
    if (!text) return gm_error(GM_ERR_INVALID_ARG, "%s needs a value", flag);
    char *end = NULL;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || end == text || *end != '\0' || v < min || v > max)
        return gm_error(GM_ERR_INVALID_ARG, "%s: '%s' is not an integer in %d..%d", flag, text, min, max);
    *out = (int)v;
    return GM_OK;
}

static gm_status gm_path_list_add(gm_path_list *list, const char *path) {
    if (list->count == list->cap) {
        int cap = list->cap ? 2 * list->cap : 64;
        char **grown = realloc(list->paths, (size_t)cap * sizeof *grown);
        if (!grown) return gm_error(GM_ERR_NOMEM, "out of memory listing inputs");
        list->paths = grown;
        list->cap = cap;
    }
    list->paths[list->count] = strdup(path);
    if (!list->paths[list->count]) return gm_error(GM_ERR_NOMEM, "out of memory listing inputs");
    list->count++;
    return GM_OK;
}

void gm_path_list_free(gm_path_list *list) {
    for (int i = 0; i < list->count; ++i) free(list->paths[i]);
    free(list->paths);
    list->paths = NULL;
    list->count = list->cap = 0;
}

static int gm_has_extension(const char *path, const char *const *exts) {
    const char *dot = strrchr(path, '.');
    if (!dot) return 0;
    for (int i = 0; exts[i]; ++i)
        if (!strcasecmp(dot + 1, exts[i])) return 1;
    return 0;
}

static const char *const gm_image_exts[] = {"png", "jpg", "jpeg", "bmp", "gif", "tga", "ppm", "pgm", "pnm", "psd", NULL};
static const char *const gm_list_exts[] = {"txt", "lst", "list", NULL};

static int gm_compare_paths(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static gm_status gm_expand_directory(const char *dir, gm_path_list *out, int depth) {
    if (depth > 32) return gm_error(GM_ERR_INVALID_ARG, "%s: folders nested too deeply (symlink loop?)", dir);
    DIR *d = opendir(dir);
    if (!d) return gm_error(GM_ERR_IO, "%s: cannot read folder: %s", dir, strerror(errno));
    gm_path_list local = {0};
    gm_status st = GM_OK;
    struct dirent *ent;
    while (st == GM_OK && (ent = readdir(d)) != NULL) {
        if (ent->d_name[0] == '.') continue;
        char path[PATH_MAX];
        if (snprintf(path, sizeof path, "%s/%s", dir, ent->d_name) >= (int)sizeof path) continue;
        struct stat sb;
        if (stat(path, &sb) != 0) continue;
        if (S_ISDIR(sb.st_mode) || (S_ISREG(sb.st_mode) && gm_has_extension(path, gm_image_exts)))
            st = gm_path_list_add(&local, path);
    }
    closedir(d);
    if (local.count > 1) qsort(local.paths, (size_t)local.count, sizeof *local.paths, gm_compare_paths);
    for (int i = 0; st == GM_OK && i < local.count; ++i) {
        struct stat sb;
        if (stat(local.paths[i], &sb) == 0 && S_ISDIR(sb.st_mode)) st = gm_expand_directory(local.paths[i], out, depth + 1);
        else st = gm_path_list_add(out, local.paths[i]);
    }
    gm_path_list_free(&local);
    return st;
}

static gm_status gm_expand_list_file(const char *list_path, gm_path_list *out) {
    FILE *f = fopen(list_path, "r");
    if (!f) return gm_error(GM_ERR_IO, "%s: cannot open list of inputs: %s", list_path, strerror(errno));
    char base[PATH_MAX];
    snprintf(base, sizeof base, "%s", list_path);
    char *slash = strrchr(base, '/');
    if (slash) slash[1] = '\0';
    else base[0] = '\0';
    char line[PATH_MAX];
    gm_status st = GM_OK;
    while (st == GM_OK && fgets(line, sizeof line, f)) {
        size_t len = strcspn(line, "\r\n");
        line[len] = '\0';
        char *p = line;
        while (*p == ' ' || *p == '\t') ++p;
        if (*p == '\0' || *p == '#') continue;
        char path[2 * PATH_MAX];
        if (p[0] == '/' || base[0] == '\0') snprintf(path, sizeof path, "%s", p);
        else snprintf(path, sizeof path, "%s%s", base, p);
        st = gm_path_list_add(out, path);
    }
    fclose(f);
    return st;
}

gm_status gm_cli_expand_inputs(char **inputs, int n_inputs, gm_path_list *out) {
    memset(out, 0, sizeof *out);
    for (int i = 0; i < n_inputs; ++i) {
        struct stat sb;
        gm_status st;
        if (stat(inputs[i], &sb) != 0) st = gm_error(GM_ERR_IO, "%s: no such file or folder", inputs[i]);
        else if (S_ISDIR(sb.st_mode)) st = gm_expand_directory(inputs[i], out, 0);
        else if (gm_has_extension(inputs[i], gm_list_exts)) st = gm_expand_list_file(inputs[i], out);
        else st = gm_path_list_add(out, inputs[i]);
        if (st != GM_OK) {
            gm_path_list_free(out);
            return st;
        }
    }
    if (out->count == 0) return gm_error(GM_ERR_INVALID_ARG, "no images found in the inputs given");
    return GM_OK;
}

void gm_cli_json_string(FILE *f, const char *text) {
    for (const unsigned char *p = (const unsigned char *)text; *p; ++p) {
        if (*p == '"' || *p == '\\') fprintf(f, "\\%c", *p);
        else if (*p < 0x20) fprintf(f, "\\u%04x", *p);
        else fputc(*p, f);
    }
}

double gm_cli_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

char *gm_cli_strdup(const char *s) {
    size_t n = strlen(s ? s : "") + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s ? s : "", n);
    return d;
}

char *gm_cli_printf(const char *fmt, ...) {
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *s = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (s) vsnprintf(s, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    return s;
}

double gm_cli_median(double *v, int n) {
    for (int i = 1; i < n; ++i) /* insertion sort: n is a repeat count */
        for (int j = i; j > 0 && v[j] < v[j - 1]; --j) {
            double t = v[j];
            v[j] = v[j - 1], v[j - 1] = t;
        }
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}
