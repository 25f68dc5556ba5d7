/* stb_image_write_impl.c — the single translation unit that compiles stb_image_write's PNG encoder
 * (Debian's libstb-dev header). Built without our warning flags; host/png_write.c sees only the
 * declarations and writes through stbi_write_png_to_func, so that it controls the file itself. */
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb_image_write.h>
