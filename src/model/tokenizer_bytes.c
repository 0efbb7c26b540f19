// GPT-2 byte-level mapping and UTF-8 validation.
//
// Byte-level BPE vocabularies write every byte as a printable code point:
// bytes '!'..'~', 0xA1..0xAC and 0xAE..0xFF stand for themselves, the other
// 68 bytes (controls, space, 0x7F..0xA0, 0xAD) become U+0100.. in byte order.
// So "Ġ" (U+0120) is the space byte and "Ċ" (U+010A) the newline.
#include <string.h>

#include "model/tokenizer_internal.h"

static int byte_is_printable(unsigned b) {
  return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
}

// The non-printable bytes, in order, are 0x00..0x20 (33), 0x7F..0xA0 (34)
// and 0xAD (1): U+0100..U+0120, U+0121..U+0142 and U+0143.
uint32_t lj_byte_to_unicode(uint8_t b) {
  if (byte_is_printable(b)) return b;
  if (b <= 0x20) return 0x100 + b;
  if (b >= 0x7F && b <= 0xA0) return 0x121 + (b - 0x7F);
  return 0x143;  // 0xAD
}

int lj_unicode_to_byte(uint32_t cp) {
  if (cp < 256) return byte_is_printable(cp) ? (int)cp : -1;
  if (cp <= 0x120) return (int)(cp - 0x100);
  if (cp <= 0x142) return (int)(0x7F + (cp - 0x121));
  if (cp == 0x143) return 0xAD;
  return -1;
}

// Decodes one UTF-8 character of a string already known to be valid.
static uint32_t utf8_next(const unsigned char *s, size_t len, size_t *i) {
  unsigned c = s[*i];
  int extra = c < 0x80 ? 0 : c < 0xE0 ? 1 : c < 0xF0 ? 2 : 3;
  uint32_t cp = extra == 0 ? c : extra == 1 ? (c & 0x1F) : extra == 2 ? (c & 0x0F) : (c & 0x07);
  (*i)++;
  for (int k = 0; k < extra && *i < len; k++, (*i)++) cp = (cp << 6) | (s[*i] & 0x3F);
  return cp;
}

long lj_byte_level_to_bytes(const char *s, size_t len, char *out) {
  if (lj_utf8_invalid_offset(s, len) != len) return -1;
  const unsigned char *u = (const unsigned char *)s;
  size_t i = 0, n = 0;
  while (i < len) {
    int b = lj_unicode_to_byte(utf8_next(u, len, &i));
    if (b < 0) return -1;
    out[n++] = (char)b;
  }
  return (long)n;
}

size_t lj_utf8_invalid_offset(const char *s, size_t len) {
  const unsigned char *u = (const unsigned char *)s;
  size_t i = 0;
  while (i < len) {
    // ASCII runs, 8 bytes at a time
    while (i + 8 <= len) {
      uint64_t w;
      memcpy(&w, u + i, 8);
      if (w & 0x8080808080808080ull) break;
      i += 8;
    }
    if (i >= len) break;
    unsigned c = u[i];
    if (c < 0x80) { i++; continue; }
    size_t need;
    unsigned lo = 0x80, hi = 0xBF;  // allowed range of the second byte
    if (c >= 0xC2 && c <= 0xDF) need = 1;
    else if (c == 0xE0) { need = 2; lo = 0xA0; }           // no overlongs
    else if (c >= 0xE1 && c <= 0xEC) need = 2;
    else if (c == 0xED) { need = 2; hi = 0x9F; }           // no surrogates
    else if (c >= 0xEE && c <= 0xEF) need = 2;
    else if (c == 0xF0) { need = 3; lo = 0x90; }           // no overlongs
    else if (c >= 0xF1 && c <= 0xF3) need = 3;
    else if (c == 0xF4) { need = 3; hi = 0x8F; }           // <= U+10FFFF
    else return i;
    if (i + need >= len) return i;  // truncated
    if (u[i + 1] < lo || u[i + 1] > hi) return i;
    for (size_t k = 2; k <= need; k++)
      if ((u[i + k] & 0xC0) != 0x80) return i;
    i += need + 1;
  }
  return len;
}
