/* keras_layer.h — one Keras layer config -> gm_node (keras_layer.c), used by keras_config.c. */
#ifndef GM_KERAS_LAYER_H
#define GM_KERAS_LAYER_H

#include <cJSON.h>

#include "keras_config.h"

/* Fills `n` (name, class, op, parameters) from {"class_name", "config", ...}; inputs are left to
 * the caller. Unknown classes give GM_ERR_UNSUPPORTED naming the layer and class. */
gm_status gm_keras_layer_to_node(const cJSON *layer, gm_node *n);

/* Input shape from `batch_shape` (Keras 3) or `batch_input_shape` (Keras 2); *found = 0 when
 * neither key is present. */
gm_status gm_keras_input_shape(const cJSON *cfg, const char *layer, int *h, int *w, int *c, int *found);

gm_status gm_keras_activation_parse(const char *text, const char *layer, gm_activation *out);

#endif
