/* keras_config.h — builds a gm_graph from a Keras `model_config` JSON string (the root attribute
 * of legacy .h5 files, also Keras 3's config.json): Sequential and Functional models, Keras 2
 * (list) and Keras 3 (dict with keras_history) `inbound_nodes` forms. */
#ifndef GM_KERAS_CONFIG_H
#define GM_KERAS_CONFIG_H

#include "graph.h"

/* `source` names the file in messages. The graph is finalized (shapes inferred) on success. */
gm_status gm_keras_config_parse(const char *json, const char *source, gm_graph **out);

/* The Keras layer classes gradmap understands, comma-separated, for messages and --help. */
const char *gm_keras_supported_layers(void);

#endif
