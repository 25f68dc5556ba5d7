/* test_class_names.c — weights/class_names.c: the embedded ImageNet list (Keras's
 * imagenet_class_index.json labels and order) and user labels files in text and JSON, including
 * the untrusted-input errors, which must name the file and line. Temporary files go in a mkdtemp
 * directory that the test removes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test_support.h"
#include "weights/class_names.h"

static int write_file(const char *path, const char *bytes, size_t len) {
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    int ok = fwrite(bytes, 1, len, f) == len;
    return fclose(f) == 0 && ok;
}

static void check_imagenet(gm_test_counts *tc) {
    char **names = NULL;
    int n = 0;
    gm_status st = gm_class_names_imagenet(&names, &n);
    gm_test_check(tc, st == GM_OK && n == 1000, "embedded ImageNet list has 1000 classes (%d)", n);
    if (st != GM_OK || n != 1000) return;
    static const struct { int index; const char *label; } known[] = {
        {0, "tench"},         {1, "goldfish"},          {2, "great_white_shark"}, {134, "crane"},
        {281, "tabby"},       {285, "Egyptian_cat"},    {386, "African_elephant"}, {517, "crane"},
        {638, "maillot"},     {639, "maillot"},         {607, "jack-o'-lantern"},  {999, "toilet_tissue"},
    };
    for (size_t i = 0; i < sizeof known / sizeof known[0]; ++i)
        gm_test_check(tc, strcmp(names[known[i].index], known[i].label) == 0, "imagenet[%d] = %s (got %s)",
                      known[i].index, known[i].label, names[known[i].index]);
    int clean = 1;
    for (int i = 0; i < n; ++i)
        if (!names[i][0] || strchr(names[i], ' ') || strchr(names[i], '\r')) clean = 0;
    gm_test_check(tc, clean, "imagenet labels are non-empty, underscored, without wnids or \\r");
    gm_class_names_free(&names, n);
    gm_test_check(tc, names == NULL, "gm_class_names_free nulls the list");
    gm_class_names_free(&names, n); /* second free is harmless */
    gm_class_names_free(NULL, 0);
}

static void check_files(gm_test_counts *tc, const char *dir) {
    char path[512];
    char **names = NULL;
    int n = 0;

    snprintf(path, sizeof path, "%s/labels.txt", dir);
    const char text[] = "\xEF\xBB\xBF" "cat\r\n\n  dog \r\n\t\r\nbig bird\nlast";
    write_file(path, text, sizeof text - 1);
    gm_status st = gm_class_names_load(path, &names, &n);
    gm_test_check(tc, st == GM_OK && n == 4 && !strcmp(names[0], "cat") && !strcmp(names[1], "dog") &&
                          !strcmp(names[2], "big bird") && !strcmp(names[3], "last"),
                  "text labels: BOM, CRLF, blank lines, padding and a missing final newline handled");
    gm_class_names_free(&names, n);

    snprintf(path, sizeof path, "%s/labels.json", dir);
    const char list[] = "\n  [\"cat\", \"dog\",\n \"h\\u00e9las\"]\n";
    write_file(path, list, sizeof list - 1);
    st = gm_class_names_load(path, &names, &n);
    gm_test_check(tc, st == GM_OK && n == 3 && !strcmp(names[2], "h\xC3\xA9las"), "JSON list file");
    gm_class_names_free(&names, n);

    snprintf(path, sizeof path, "%s/index.json", dir);
    const char index[] = "{\"1\": [\"n01443537\", \"goldfish\"], \"0\": [\"n01440764\", \"tench\"], \"2\": \"shark\"}";
    write_file(path, index, sizeof index - 1);
    st = gm_class_names_load(path, &names, &n);
    gm_test_check(tc, st == GM_OK && n == 3 && !strcmp(names[0], "tench") && !strcmp(names[1], "goldfish") &&
                          !strcmp(names[2], "shark"),
                  "Keras class-index JSON object, keys out of order");
    gm_class_names_free(&names, n);

    /* Errors: status, the file named, the line where it applies, and an empty result. */
    snprintf(path, sizeof path, "%s/missing.txt", dir);
    st = gm_class_names_load(path, &names, &n);
    gm_test_check(tc, st == GM_ERR_IO && names == NULL && n == 0 && strstr(gm_last_error(), "missing.txt"),
                  "missing file: i/o error naming it (%s)", gm_last_error());

    snprintf(path, sizeof path, "%s/bad.json", dir);
    const char bad[] = "[\"cat\",\n \"dog\" \"bird\"]";
    write_file(path, bad, sizeof bad - 1);
    st = gm_class_names_load(path, &names, &n);
    gm_test_check(tc, st == GM_ERR_FORMAT && names == NULL && strstr(gm_last_error(), "bad.json") &&
                          strstr(gm_last_error(), "line 2"),
                  "broken JSON: format error with file and line (%s)", gm_last_error());

    const char *cases[][2] = {
        {"[\"cat\", 3]", "element 1"},
        {"[\"cat\"] x", "after the JSON"},
        {"[]", "no class names"},
        {"{\"0\": \"a\", \"2\": \"b\"}", "0..1"},
        {"{\"0\": \"a\", \"x\": \"b\"}", "\"x\""},
        {"{\"0\": 5}", "class 0"},
        {"\"cat\"", "expected a JSON list"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i) {
        st = gm_class_names_from_json(cases[i][0], &names, &n);
        gm_test_check(tc, st == GM_ERR_FORMAT && names == NULL && n == 0 && strstr(gm_last_error(), cases[i][1]),
                      "JSON %s rejected: %s", cases[i][0], gm_last_error());
        gm_class_names_free(&names, n);
    }

    snprintf(path, sizeof path, "%s/nul.txt", dir);
    const char nul[] = "cat\ndog\nbi\0rd\n";
    write_file(path, nul, sizeof nul - 1);
    st = gm_class_names_load(path, &names, &n);
    gm_test_check(tc, st == GM_ERR_FORMAT && names == NULL && strstr(gm_last_error(), "nul.txt") &&
                          strstr(gm_last_error(), "line 3"),
                  "NUL byte: format error naming file and line (%s)", gm_last_error());

    snprintf(path, sizeof path, "%s/empty.txt", dir);
    write_file(path, "\n \r\n", 4);
    st = gm_class_names_load(path, &names, &n);
    gm_test_check(tc, st == GM_ERR_FORMAT && names == NULL && strstr(gm_last_error(), "no class names"),
                  "blank file: no class names (%s)", gm_last_error());

    st = gm_class_names_load(NULL, &names, &n);
    gm_test_check(tc, st == GM_ERR_INVALID_ARG && names == NULL, "NULL path is an invalid argument");

    const char *files[] = {"labels.txt", "labels.json", "index.json", "bad.json", "nul.txt", "empty.txt"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; ++i) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        remove(path);
    }
}

int main(void) {
    gm_test_counts tc = {0, 0};
    check_imagenet(&tc);
    char dir[] = "/tmp/gm_test_class_names_XXXXXX";
    if (mkdtemp(dir)) {
        check_files(&tc, dir);
        rmdir(dir);
    } else {
        gm_test_check(&tc, 0, "mkdtemp for temporary labels files");
    }
    return gm_test_summary(&tc);
}
