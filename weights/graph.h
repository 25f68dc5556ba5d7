/* graph.h — gradmap's model graph: layers in topological order, each with its Keras name, class,
 * parameters, host weights in Keras layouts and inferred output shape (NHWC, batch excluded).
 * Built by the Keras model_config reader (keras_config.c) or the built-in architectures
 * (arch_*.c); weights are attached by keras_h5.c; BatchNormalization is folded by bn_fold.c.
 *
 * Conventions: conv kernels HWIO (kh,kw,cin,cout); dense kernels IO (in,out); Flatten keeps
 * HWC order (Keras), which is free in NHWC memory. A final softmax (fused in the last Dense or
 * a separate layer) is split off so that logits are a node of their own (`logits_node`). */
#ifndef GM_GRAPH_H
#define GM_GRAPH_H

#include <stdint.h>

#include "../host/backend.h"
#include "../host/image.h"
#include "../host/status.h"

#define GM_NAME_MAX 128
#define GM_MAX_INPUTS 8

typedef enum gm_op {
    GM_OP_INPUT = 0,
    GM_OP_CONV2D,
    GM_OP_DENSE,
    GM_OP_MAXPOOL,
    GM_OP_AVGPOOL,
    GM_OP_GAP,          /* GlobalAveragePooling2D */
    GM_OP_GMP,          /* GlobalMaxPooling2D */
    GM_OP_BATCHNORM,    /* becomes GM_OP_IDENTITY when folded, GM_OP_CHANNEL_AFFINE otherwise */
    GM_OP_CHANNEL_AFFINE,
    GM_OP_ACTIVATION,   /* Activation, ReLU, Softmax layers and split-off fused activations */
    GM_OP_ADD,
    GM_OP_FLATTEN,      /* memory no-op in NHWC; shape becomes rank 2 */
    GM_OP_IDENTITY,     /* Dropout, folded BN: output aliases input */
    GM_OP_ZEROPAD,
    GM_OP_RESCALING
} gm_op;

typedef struct gm_shape {
    int rank; /* 2 (N x C) or 4 (N x H x W x C); batch not stored */
    int h, w, c;
} gm_shape;

typedef struct gm_node {
    char name[GM_NAME_MAX];       /* Keras layer name */
    char class_name[64];          /* Keras class ("Conv2D"), for messages and `info` */
    gm_op op;
    int inputs[GM_MAX_INPUTS];    /* indices of producer nodes (always < this node's index) */
    int n_inputs;
    gm_shape out;

    /* Parameters (the op decides which are used). */
    gm_conv2d_desc conv;          /* GM_OP_CONV2D */
    gm_dense_desc dense;          /* GM_OP_DENSE */
    gm_pool_desc pool;            /* GM_OP_MAXPOOL, GM_OP_AVGPOOL */
    gm_activation act;            /* GM_OP_ACTIVATION */
    int pad_top, pad_bottom, pad_left, pad_right; /* GM_OP_ZEROPAD */
    float rescale_scale, rescale_offset;          /* GM_OP_RESCALING */
    int use_bias;                 /* conv/dense */
    float bn_epsilon;             /* batch norm */
    int bn_center, bn_scale;      /* batch norm: beta / gamma present */
    char padding_mode[8];         /* "same"/"valid" as read (conv, pool); pads above are resolved */
    int groups;                   /* conv: only 1 supported */

    /* Host weights (owned, malloc'd). Sizes follow from the parameters above. */
    float *kernel;                /* conv HWIO / dense IO */
    float *bias;                  /* conv/dense: cout/out floats; affine: shift */
    float *bn_gamma, *bn_beta, *bn_mean, *bn_var; /* batch norm, C floats each */
    float *affine_scale;          /* GM_OP_CHANNEL_AFFINE: C floats (shift is `bias`) */
    int weights_loaded;           /* set by the weight loader */
    int keepdims;                 /* global pooling: rank-4 1x1 output (Keras keepdims) */
    int synthetic;                /* 1 for nodes gradmap added (the split-off softmax), not Keras layers */

    /* Set by bn_fold.c: this node's own output is no longer materialised because a following
     * BatchNormalization or ReLU was fused into it; `fused_into` is the node whose output now
     * holds the value computed here (-1 when not fused). */
    int fused_into;
} gm_node;

typedef struct gm_graph {
    char model_name[GM_NAME_MAX];
    char source_path[1024];       /* file the model came from, for messages */
    gm_node *nodes;
    int n_nodes, cap_nodes;
    int output_node;              /* the model's output (probabilities when a softmax was split) */
    int logits_node;              /* pre-softmax scores; == output_node when no softmax */
    int input_h, input_w, input_c;
    gm_preprocess_mode preprocess;
    char **class_names;           /* optional, n_classes entries (owned) */
    int n_class_names;
} gm_graph;

gm_status gm_graph_create(const char *model_name, gm_graph **out);
void gm_graph_free(gm_graph **g);

/* Appends a node (copied) and returns its index through *index. Names must be unique. */
gm_status gm_graph_add_node(gm_graph *g, const gm_node *node, int *index);
int gm_graph_find(const gm_graph *g, const char *name); /* -1 when absent */

/* Infers every node's output shape from the input shape and parameters, resolving TF "same"
 * padding into explicit pads; checks arity and shape agreement (Add, Dense input size). Errors
 * name the layer and both shapes. Also splits a final softmax off into its own node. */
gm_status gm_graph_finalize(gm_graph *g);

/* Folds every BatchNormalization whose input is a convolution or dense layer with a linear
 * activation and no other consumer into that layer's kernel and bias, then fuses a following
 * plain ReLU into it; the absorbed nodes become GM_OP_IDENTITY. A BatchNormalization that cannot
 * be folded becomes GM_OP_CHANNEL_AFFINE (scale, shift). Needs loaded weights (weights/bn_fold.c). */
gm_status gm_graph_fold_batchnorm(gm_graph *g);

/* Number of nodes that read node `index`'s output (the graph output counts as one reader). */
int gm_graph_consumer_count(const gm_graph *g, int index);

/* Multiply-accumulates of the forward pass for one image (conv, dense; pooling not counted). */
double gm_graph_forward_macs(const gm_graph *g);
/* The same for one node: its forward's multiply-accumulates per image (0 unless conv or dense). */
double gm_node_forward_macs(const gm_node *n);
/* Parameters as Keras counts them (BN includes moving stats). */
long long gm_graph_param_count(const gm_graph *g);
long long gm_node_param_count(const gm_node *n);

/* Default explanation target layer (DESIGN §6): the last node with a rank-4 output whose
 * spatial size is > 1 that is not a pooling layer or a 1x1 logits conv. -1 if none. */
int gm_graph_default_target(const gm_graph *g);

const char *gm_op_name(gm_op op);

#endif
