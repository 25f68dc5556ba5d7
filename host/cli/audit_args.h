/* audit_args.h — the options of `gradmap audit` (parsed by audit_args.c), shared with cmd_audit.c. */
#ifndef GM_AUDIT_ARGS_H
#define GM_AUDIT_ARGS_H

#include "audit_output.h"
#include "explain_args.h"

typedef struct gm_audit_args {
    gm_explain_args x;        /* model, device, batch, preprocessing, target layer, ... as in explain */
    const char *data, *masks, *boxes;
    gm_method method;
    int target_pred;          /* --target pred: explain the prediction instead of the label */
    int overwrite;            /* --overwrite: replace an earlier audit in DIR */
    gm_audit_region regions[GM_AUDIT_MAX_REGIONS];
    int n_regions;
    gm_audit_metric_options metrics;
    gm_spray_config spray;
    gm_audit_report_options report;
} gm_audit_args;

/* Parses argv (argv[0] = "audit"); *help = 1 for --help. */
gm_status gm_audit_args_parse(int argc, char **argv, gm_audit_args *a, int *help);
void gm_audit_usage(FILE *f);

#endif
