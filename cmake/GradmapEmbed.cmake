# GradmapEmbed.cmake — turns a text data file into a C translation unit defining
#   const char NAME[]; const unsigned long NAME_size;
# so that the gradmap binary carries its data (ImageNet class names) and needs no file at run time.
function(gm_embed_text input symbol output)
  file(READ "${input}" hex HEX)
  string(LENGTH "${hex}" hex_len)
  math(EXPR size "${hex_len} / 2")
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
  file(WRITE "${output}.tmp"
       "/* Generated from ${input} by cmake/GradmapEmbed.cmake; do not edit. */\n"
       "const unsigned long ${symbol}_size = ${size}UL;\n"
       "const char ${symbol}[] = {${bytes}0x00};\n")
  configure_file("${output}.tmp" "${output}" COPYONLY)
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${input}")
endfunction()
