// bcryptprimitives.dll for Wine 8: Go >= 1.24 programs call ProcessPrng, which
// Wine 8 lacks; this provides it through RtlGenRandom. Built by setup.sh.
#include <windows.h>
#define SystemFunction036 NTAPI SystemFunction036
#include <ntsecapi.h>
#undef SystemFunction036
BOOL WINAPI ProcessPrng(PBYTE pbData, SIZE_T cbData) {
  while (cbData > 0) {
    ULONG n = cbData > 0x10000000 ? 0x10000000 : (ULONG)cbData;
    if (!RtlGenRandom(pbData, n)) return FALSE;
    pbData += n; cbData -= n;
  }
  return TRUE;
}
