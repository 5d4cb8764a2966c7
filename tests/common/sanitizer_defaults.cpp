// sanitizer_defaults.cpp — LeakSanitizer suppressions built into the sanitizer build's test
// and fuzz binaries, so they hold however the binary is started (ctest, a fuzzer, by hand).
//
// fontconfig keeps its configuration and font caches for the life of the process (Pango asks
// it once per process); our code never calls fontconfig itself, so no leak of ours hides here.
extern "C" const char* __lsan_default_suppressions() { return "leak:libfontconfig.so\n"; }
