#include <cstdlib>
#include <ios>
extern "C" unsigned long __isoc23_strtoul(const char *s, char **e, int b) { return std::strtoul(s, e, b); }
extern "C" long __isoc23_strtol(const char *s, char **e, int b) { return std::strtol(s, e, b); }
namespace std { void ios_base_library_init() { static ios_base::Init init; } }
static std::ios_base::Init shim_ios_init;
