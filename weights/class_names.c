/* class_names.c — the bundled ImageNet class list and user labels files (see class_names.h).
 * The ImageNet text ("<wnid> <label>" per line, Keras's index order) is compiled into the binary by
 * cmake/GradmapEmbed.cmake, so no data file has to travel with gradmap. User files are untrusted:
 * they are size-capped, NUL bytes are refused, and every error names the source and line. */
#include "class_names.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Generated from weights/data/imagenet_classes.txt; NUL-terminated, size excludes the NUL. */
extern const char gm_imagenet_classes_txt[];
extern const unsigned long gm_imagenet_classes_txt_size;

#define GM_CLASS_NAMES_MAX_FILE (64L * 1024 * 1024)

typedef struct gm_name_list {
    char **items;
    int n, cap;
} gm_name_list;

static void gm_name_list_release(gm_name_list *l) {
    gm_class_names_free(&l->items, l->n);
    l->n = l->cap = 0;
}

static gm_status gm_name_list_push(gm_name_list *l, const char *text, size_t len, const char *label) {
    if (l->n == INT_MAX) return gm_error(GM_ERR_FORMAT, "%s: too many class names", label);
    if (l->n == l->cap) {
        int cap = l->cap ? (l->cap > INT_MAX / 2 ? INT_MAX : 2 * l->cap) : 1024;
        char **grown = realloc(l->items, (size_t)cap * sizeof *grown);
        if (!grown) return gm_error(GM_ERR_NOMEM, "%s: out of memory reading class names", label);
        l->items = grown;
        l->cap = cap;
    }
    char *copy = malloc(len + 1);
    if (!copy) return gm_error(GM_ERR_NOMEM, "%s: out of memory reading class names", label);
    memcpy(copy, text, len);
    copy[len] = '\0';
    l->items[l->n++] = copy;
    return GM_OK;
}

static gm_status gm_name_list_finish(gm_name_list *l, const char *label, char ***names, int *count) {
    if (l->n == 0) {
        gm_name_list_release(l);
        return gm_error(GM_ERR_FORMAT, "%s: no class names", label);
    }
    *names = l->items;
    *count = l->n;
    l->items = NULL;
    l->n = l->cap = 0;
    return GM_OK;
}

static int gm_is_blank(char c) { return c == ' ' || c == '\t' || c == '\r'; }

/* Skips a UTF-8 byte-order mark, which Windows editors put at the start of text files. */
static size_t gm_skip_bom(const char *text, size_t len) {
    return len >= 3 && (unsigned char)text[0] == 0xEF && (unsigned char)text[1] == 0xBB &&
                   (unsigned char)text[2] == 0xBF
               ? 3
               : 0;
}

/* One name per non-blank line; with `strip_wnid` the line is "<wnid> <label>" and the label is
 * everything after the first space. */
static gm_status gm_names_from_lines(const char *text, size_t len, const char *label, int strip_wnid, char ***names,
                                     int *count) {
    gm_name_list list = {0};
    size_t pos = gm_skip_bom(text, len);
    for (int line = 1; pos < len; ++line) {
        const char *start = text + pos;
        const char *nl = memchr(start, '\n', len - pos);
        size_t line_len = nl ? (size_t)(nl - start) : len - pos;
        pos += line_len + (nl ? 1 : 0);
        if (memchr(start, '\0', line_len)) {
            gm_name_list_release(&list);
            return gm_error(GM_ERR_FORMAT, "%s: line %d contains a NUL byte (not a text file?)", label, line);
        }
        while (line_len > 0 && gm_is_blank(start[line_len - 1])) --line_len;
        while (line_len > 0 && gm_is_blank(*start)) ++start, --line_len;
        if (line_len == 0) continue;
        if (strip_wnid) {
            const char *space = memchr(start, ' ', line_len);
            size_t skip = space ? (size_t)(space - start) + 1 : line_len;
            while (skip < line_len && start[skip] == ' ') ++skip;
            if (skip >= line_len) {
                gm_name_list_release(&list);
                return gm_error(GM_ERR_FORMAT, "%s: line %d has no label after the synset id", label, line);
            }
            start += skip;
            line_len -= skip;
        }
        gm_status st = gm_name_list_push(&list, start, line_len, label);
        if (st != GM_OK) {
            gm_name_list_release(&list);
            return st;
        }
    }
    return gm_name_list_finish(&list, label, names, count);
}

static int gm_line_of(const char *text, const char *at) {
    int line = 1;
    for (const char *p = text; p < at; ++p)
        if (*p == '\n') ++line;
    return line;
}

/* Keras class-index object: keys "0".."N-1" (each once), values a string or a list ending in one. */
static gm_status gm_names_from_json_object(const cJSON *root, const char *label, gm_name_list *list) {
    int n = cJSON_GetArraySize(root);
    if (n <= 0) return gm_error(GM_ERR_FORMAT, "%s: empty JSON object, no class names", label);
    list->items = calloc((size_t)n, sizeof *list->items);
    if (!list->items) return gm_error(GM_ERR_NOMEM, "%s: out of memory reading class names", label);
    list->cap = n;
    list->n = n; /* slots filled by key; NULL ones are reported below and freed safely */
    for (const cJSON *item = root->child; item; item = item->next) {
        char *end = NULL;
        errno = 0;
        long index = strtol(item->string, &end, 10);
        if (item->string[0] < '0' || item->string[0] > '9' || *end != '\0' || errno != 0 || index >= n)
            return gm_error(GM_ERR_FORMAT, "%s: key \"%s\" is not a class index in 0..%d", label, item->string,
                            n - 1);
        const cJSON *value = item;
        if (cJSON_IsArray(item)) value = cJSON_GetArrayItem(item, cJSON_GetArraySize(item) - 1);
        if (!cJSON_IsString(value))
            return gm_error(GM_ERR_FORMAT, "%s: class %ld: expected a name or a [synset, name] list", label, index);
        if (list->items[index])
            return gm_error(GM_ERR_FORMAT, "%s: class index %ld appears twice", label, index);
        list->items[index] = strdup(value->valuestring);
        if (!list->items[index]) return gm_error(GM_ERR_NOMEM, "%s: out of memory reading class names", label);
    }
    for (int i = 0; i < n; ++i)
        if (!list->items[i]) return gm_error(GM_ERR_FORMAT, "%s: class index %d is missing", label, i);
    return GM_OK;
}

static gm_status gm_names_from_json_text(const char *text, size_t len, const char *label, char ***names,
                                         int *count) {
    size_t start = gm_skip_bom(text, len);
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text + start, len - start, &end, 0);
    if (!root) {
        const char *at = end ? end : text + start;
        return gm_error(GM_ERR_FORMAT, "%s: line %d: invalid JSON near \"%.20s\"", label, gm_line_of(text, at), at);
    }
    while (end && end < text + len && (gm_is_blank(*end) || *end == '\n')) ++end;
    if (end && end < text + len) {
        cJSON_Delete(root);
        return gm_error(GM_ERR_FORMAT, "%s: line %d: unexpected text after the JSON value", label,
                        gm_line_of(text, end));
    }
    gm_name_list list = {0};
    gm_status st = GM_OK;
    if (cJSON_IsArray(root)) {
        int i = 0;
        for (const cJSON *item = root->child; item && st == GM_OK; item = item->next, ++i) {
            if (!cJSON_IsString(item))
                st = gm_error(GM_ERR_FORMAT, "%s: element %d of the list is not a string", label, i);
            else
                st = gm_name_list_push(&list, item->valuestring, strlen(item->valuestring), label);
        }
    } else if (cJSON_IsObject(root)) {
        st = gm_names_from_json_object(root, label, &list);
    } else {
        st = gm_error(GM_ERR_FORMAT, "%s: expected a JSON list of class names", label);
    }
    cJSON_Delete(root);
    if (st != GM_OK) {
        gm_name_list_release(&list);
        return st;
    }
    return gm_name_list_finish(&list, label, names, count);
}

static gm_status gm_read_small_file(const char *path, char **out, size_t *out_len) {
    *out = NULL;
    *out_len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return gm_error(GM_ERR_IO, "%s: cannot open labels file: %s", path, strerror(errno));
    size_t cap = 64 * 1024, len = 0;
    char *buf = malloc(cap + 1);
    gm_status st = buf ? GM_OK : gm_error(GM_ERR_NOMEM, "%s: out of memory", path);
    while (st == GM_OK) {
        if (len == cap) {
            if (cap >= (size_t)GM_CLASS_NAMES_MAX_FILE) {
                st = gm_error(GM_ERR_FORMAT, "%s: labels file larger than %ld MiB", path,
                              GM_CLASS_NAMES_MAX_FILE / (1024 * 1024));
                break;
            }
            char *grown = realloc(buf, 2 * cap + 1);
            if (!grown) {
                st = gm_error(GM_ERR_NOMEM, "%s: out of memory", path);
                break;
            }
            buf = grown;
            cap *= 2;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0) {
            if (ferror(f)) st = gm_error(GM_ERR_IO, "%s: read error", path);
            break;
        }
    }
    fclose(f);
    if (st != GM_OK) {
        free(buf);
        return st;
    }
    buf[len] = '\0';
    *out = buf;
    *out_len = len;
    return GM_OK;
}

gm_status gm_class_names_imagenet(char ***names, int *count) {
    *names = NULL;
    *count = 0;
    return gm_names_from_lines(gm_imagenet_classes_txt, (size_t)gm_imagenet_classes_txt_size,
                               "embedded ImageNet class list", 1, names, count);
}

gm_status gm_class_names_load(const char *path, char ***names, int *count) {
    *names = NULL;
    *count = 0;
    if (!path || !*path) return gm_error(GM_ERR_INVALID_ARG, "no labels file given");
    char *text = NULL;
    size_t len = 0;
    GM_TRY(gm_read_small_file(path, &text, &len));
    size_t p = gm_skip_bom(text, len);
    while (p < len && (gm_is_blank(text[p]) || text[p] == '\n')) ++p;
    gm_status st = p < len && (text[p] == '[' || text[p] == '{')
                       ? gm_names_from_json_text(text, len, path, names, count)
                       : gm_names_from_lines(text, len, path, 0, names, count);
    free(text);
    return st;
}

gm_status gm_class_names_from_json(const char *json, char ***names, int *count) {
    *names = NULL;
    *count = 0;
    if (!json) return gm_error(GM_ERR_INVALID_ARG, "no JSON text given");
    return gm_names_from_json_text(json, strlen(json), "class-name JSON", names, count);
}

void gm_class_names_free(char ***names, int count) {
    if (!names || !*names) return;
    for (int i = 0; i < count; ++i) free((*names)[i]);
    free(*names);
    *names = NULL;
}
