/* stb_image_impl.c — the single translation unit that compiles stb_image's implementation
 * (Debian's libstb-dev header). Built without our warning flags; everything else includes only
 * the declarations. Decoding from files goes through our own reader (image.c), so stdio support
 * stays in but is unused. */
#define STB_IMAGE_IMPLEMENTATION
#define STBI_NO_HDR
#define STBI_NO_LINEAR
#include <stb_image.h>
