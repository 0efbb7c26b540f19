// Whether two paths name one file (or folder): the same device and inode once
// symbolic links are followed, so "./a.db", "a.db" and a link to it are one.
#pragma once

// 1 when both exist and are the same file, else 0.
int lj_same_file(const char *a, const char *b);
