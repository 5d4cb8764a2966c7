// barcode.cpp — QR and Code 128 symbols of a fax page, through zbar (barcode.hpp).
#include "ocr/barcode.hpp"

#include <zbar.h>

#include <memory>

namespace ocr {

using namespace zbar;  // the C API, which zbar.h puts in namespace zbar for C++

std::vector<Barcode> read_barcodes(const imaging::Page& page) {
  const imaging::Bitmap& bm = page.bitmap;
  if (bm.width <= 0 || bm.rows <= 0) return {};
  // Rows repeated until the vertical resolution is about the horizontal one (98 dpi twice).
  const int repeat = page.yres > 0 && page.xres > page.yres ? std::max(1, (page.xres + page.yres / 2) / page.yres) : 1;
  const int width = bm.width, height = bm.rows * repeat;
  std::vector<unsigned char> grey(size_t(width) * size_t(height));
  for (int y = 0; y < bm.rows; ++y) {
    unsigned char* out = grey.data() + size_t(y) * repeat * size_t(width);
    for (int x = 0; x < width; ++x) out[x] = bm.get(x, y) ? 0 : 255;
    for (int r = 1; r < repeat; ++r) std::copy(out, out + width, out + size_t(r) * size_t(width));
  }
  std::unique_ptr<zbar_image_scanner_t, decltype(&zbar_image_scanner_destroy)> scanner(zbar_image_scanner_create(),
                                                                                        zbar_image_scanner_destroy);
  std::unique_ptr<zbar_image_t, decltype(&zbar_image_destroy)> image(zbar_image_create(), zbar_image_destroy);
  if (!scanner || !image) return {};
  zbar_image_scanner_set_config(scanner.get(), ZBAR_NONE, ZBAR_CFG_ENABLE, 0);
  zbar_image_scanner_set_config(scanner.get(), ZBAR_QRCODE, ZBAR_CFG_ENABLE, 1);
  zbar_image_scanner_set_config(scanner.get(), ZBAR_CODE128, ZBAR_CFG_ENABLE, 1);
  zbar_image_set_format(image.get(), zbar_fourcc('Y', '8', '0', '0'));
  zbar_image_set_size(image.get(), unsigned(width), unsigned(height));
  zbar_image_set_data(image.get(), grey.data(), grey.size(), nullptr);  // ours: no cleanup handler
  std::vector<Barcode> out;
  if (zbar_scan_image(scanner.get(), image.get()) <= 0) return out;
  for (const zbar_symbol_t* s = zbar_image_first_symbol(image.get()); s && out.size() < kMaxBarcodes;
       s = zbar_symbol_next(s)) {
    const unsigned len = zbar_symbol_get_data_length(s);
    if (len == 0 || len > kMaxBarcodeBytes) continue;
    out.push_back({zbar_get_symbol_name(zbar_symbol_get_type(s)), std::string(zbar_symbol_get_data(s), len)});
  }
  return out;
}

}  // namespace ocr
