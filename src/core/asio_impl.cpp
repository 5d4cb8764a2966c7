// asio_impl.cpp — asio (and asio::ssl) compiled once, here, instead of in every file that
// includes it (ASIO_SEPARATE_COMPILATION): the header-only build costs minutes on 2 cores.
#include <asio/impl/src.hpp>
#include <asio/ssl/impl/src.hpp>
