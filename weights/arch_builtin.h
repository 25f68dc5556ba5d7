/* arch_builtin.h — built-in keras.applications architectures (VGG16, VGG19, ResNet50) for
 * weights-only .h5 files, which carry no model_config (DESIGN §6, keras-formats.md §2).
 *
 * The graphs use Keras 3's exact layer names, classes and order (model.layers), so that weights
 * load by name and `--layer block5_conv3` means what it means in Keras. Input is `input_layer`,
 * 224x224x3, preprocessing "caffe". Weights stay NULL: the HDF5 loader fills them
 * (or gm_arch_fill_random, for benchmarks without a file).
 * The returned graph is finalized (shapes resolved, final softmax split off). */
#ifndef GM_ARCH_BUILTIN_H
#define GM_ARCH_BUILTIN_H

#include <stdint.h>

#include "../host/status.h"
#include "graph.h"

/* arch: "vgg16", "vgg19" or "resnet50" (case-insensitive). include_top = 0 ends the graph where
 * Keras's include_top=False model ends (block5_pool, conv5_block3_out). Unknown names are
 * GM_ERR_NOT_FOUND with the supported list in the message. */
gm_status gm_arch_build(const char *arch, int include_top, gm_graph **out);

/* Seeded random weights for every Conv2D, Dense and BatchNormalization layer of `g` whose weights
 * are NULL (He-normal kernels, small biases, BatchNormalization near the identity; arch_random.c
 * states the distributions). The same seed gives the same weights bit for bit on every machine and
 * thread count. BatchNormalization is left unfolded (gm_graph_fold_batchnorm does it). */
gm_status gm_arch_fill_random(gm_graph *g, uint64_t seed);

/* gm_arch_build(arch, include_top = 1) + gm_arch_fill_random + gm_graph_fold_batchnorm: a ready
 * inference graph with random weights, as `gradmap bench --arch` uses. */
gm_status gm_arch_build_random(const char *arch, uint64_t seed, gm_graph **out);

/* The supported names for help text: "vgg16|vgg19|resnet50". */
const char *gm_arch_names(void);

/* The per-family builders behind gm_arch_build (arch_vgg.c, arch_resnet.c). depth: 16 or 19. */
gm_status gm_arch_build_vgg(int depth, int include_top, gm_graph **out);
gm_status gm_arch_build_resnet50(int include_top, gm_graph **out);

#endif
