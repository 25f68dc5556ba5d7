/* keras_weights.h — loads Keras legacy-HDF5 weights into a finalized graph by layer name. */
#ifndef GM_KERAS_WEIGHTS_H
#define GM_KERAS_WEIGHTS_H

#include <hdf5.h>

#include "graph.h"

/* `wgroup` is the weights group (file root or /model_weights); `file` names it in messages. */
gm_status gm_keras_load_weights(hid_t wgroup, const char *file, gm_graph *g);

#endif
