/* test_tar.c: tar headers read from a buffer: ustar, GNU long names, pax, streaming, damage. */
#include <stdio.h>
#include <string.h>

#include "bodega/bd_tar.h"
#include "test.h"

#define BUFMAX (64 * 1024)

/* Writes h's checksum (after a test changed a field). */
static void reseal(unsigned char *h)
{
    unsigned sum = 0;
    memset(h + 148, ' ', 8);
    for (int i = 0; i < 512; i++)
        sum += h[i];
    snprintf((char *)h + 148, 8, "%06o", sum);
}

/* A header block: name, type, size (octal), the POSIX ustar magic unless gnu. */
static void header(unsigned char *h, const char *name, char type, unsigned long size, int gnu)
{
    memset(h, 0, 512);
    memcpy(h, name, strlen(name));
    memcpy(h + 100, "0000644", 7);
    snprintf((char *)h + 124, 12, "%011lo", size);
    memcpy(h + 136, "14000000000", 11);  /* 0x60000000 s */
    h[156] = (unsigned char)type;
    memcpy(h + 257, gnu ? "ustar  " : "ustar\0" "00", 8);
    reseal(h);
}

/* Appends a member (header and padded data) at *len. */
static void add(unsigned char *buf, size_t *len, const char *name, char type, const void *data, size_t n)
{
    header(buf + *len, name, type, (unsigned long)n, type == 'L' || type == 'K');
    *len += 512;
    memset(buf + *len, 0, (n + 511) / 512 * 512);
    if (n)
        memcpy(buf + *len, data, n);
    *len += (n + 511) / 512 * 512;
}

static void end(unsigned char *buf, size_t *len)
{
    memset(buf + *len, 0, 1024);
    *len += 1024;
}

static int name_is(const bd_tar *t, const bd_tar_member *m, const char *want)
{
    return m->name_len == strlen(want) && memcmp(t->names + m->name_off, want, m->name_len) == 0;
}

static unsigned char buf[BUFMAX];

TEST(tar_reads_files_dirs_links_with_their_data)
{
    size_t len = 0, count, used, need;
    bd_tar t;
    bd_tar_member m[8];
    bd_error e;
    memset(&t, 0, sizeof t);
    add(buf, &len, "bin/", '5', 0, 0);
    add(buf, &len, "bin/tool", '0', "hello", 5);
    add(buf, &len, "bin/link", '2', 0, 0);
    memcpy(buf + 512 * 3 + 157, "tool", 4);  /* the link's target */
    reseal(buf + 512 * 3);
    end(buf, &len);
    ASSERT_OK(bd_tar_read(&t, buf, len, 1, 1 << 20, m, 8, &count, &used, &need, &e), &e);
    ASSERT_INT(count, ==, 3);
    ASSERT_INT(used, ==, len - 512);  /* stops after the first end block */
    ASSERT_INT(t.ended, ==, 1);
    ASSERT_INT(m[0].type, ==, '5');
    ASSERT(name_is(&t, &m[0], "bin/"));
    ASSERT_INT(m[1].type, ==, '0');
    ASSERT(name_is(&t, &m[1], "bin/tool"));
    ASSERT_INT(m[1].size, ==, 5);
    ASSERT_INT(m[1].data_whole, ==, 1);
    ASSERT(memcmp(buf + m[1].data_off, "hello", 5) == 0);
    ASSERT_INT(m[1].mode, ==, 0644);
    ASSERT_INT(m[1].mtime_ns, ==, 0x60000000LL * 1000000000LL);
    ASSERT_INT(m[2].type, ==, '2');
    ASSERT_INT(m[2].link_len, ==, 4);
    ASSERT(memcmp(t.names + m[2].link_off, "tool", 4) == 0);
    bd_tar_free(&t);
}

TEST(tar_gnu_long_name_and_pax_records_name_the_next_member)
{
    size_t len = 0, count, used, need;
    bd_tar t;
    bd_tar_member m[4];
    bd_error e;
    char longname[300];
    memset(longname, 'n', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    memset(&t, 0, sizeof t);
    add(buf, &len, "././@LongLink", 'L', longname, sizeof longname);  /* with its NUL */
    add(buf, &len, "short", '0', "x", 1);
    const char pax[] = "30 mtime=1700000000.123456789\n" "16 path=renamed\n" "11 size=11\n";
    add(buf, &len, "PaxHeaders/x", 'x', pax, sizeof pax - 1);
    add(buf, &len, "x", '0', "hello world", 11);
    end(buf, &len);
    ASSERT_OK(bd_tar_read(&t, buf, len, 1, 1 << 20, m, 4, &count, &used, &need, &e), &e);
    ASSERT_INT(count, ==, 2);
    ASSERT(name_is(&t, &m[0], longname));
    ASSERT(name_is(&t, &m[1], "renamed"));
    ASSERT_INT(m[1].mtime_ns, ==, 1700000000123456789LL);
    ASSERT_INT(m[1].size, ==, 11);
    ASSERT(memcmp(buf + m[1].data_off, "hello world", 11) == 0);
    bd_tar_free(&t);
}

TEST(tar_ustar_prefix_joins_the_name)
{
    size_t len = 0, count, used, need;
    bd_tar t;
    bd_tar_member m[2];
    bd_error e;
    memset(&t, 0, sizeof t);
    add(buf, &len, "file", '0', "", 0);
    memcpy(buf + 345, "deep/dir", 8);
    reseal(buf);
    ASSERT_OK(bd_tar_read(&t, buf, len, 1, 1 << 20, m, 2, &count, &used, &need, &e), &e);
    ASSERT_INT(count, ==, 1);
    ASSERT(name_is(&t, &m[0], "deep/dir/file"));
    bd_tar_free(&t);
}

TEST(tar_a_large_file_comes_without_its_data_and_a_cut_member_asks_for_more)
{
    static unsigned char big[8192];
    size_t len = 0, count, used, need;
    bd_tar t;
    bd_tar_member m[4];
    bd_error e;
    memset(big, 'b', sizeof big);
    memset(&t, 0, sizeof t);
    add(buf, &len, "small", '0', "s", 1);
    add(buf, &len, "big", '0', big, sizeof big);
    add(buf, &len, "after", '0', "a", 1);
    end(buf, &len);
    /* max_whole 4096: "big" is streamed by the caller */
    ASSERT_OK(bd_tar_read(&t, buf, len, 0, 4096, m, 4, &count, &used, &need, &e), &e);
    ASSERT_INT(count, ==, 2);
    ASSERT_INT(m[1].data_whole, ==, 0);
    ASSERT_INT(used, ==, 1024 + 512);  /* past big's header only */
    size_t at = used + sizeof big;
    /* the rest, cut inside "after"'s data block: the reader asks for the whole member */
    ASSERT_OK(bd_tar_read(&t, buf + at, 700, 0, 4096, m, 4, &count, &used, &need, &e), &e);
    ASSERT_INT(count, ==, 0);
    ASSERT_INT(used, ==, 0);
    ASSERT_INT(need, ==, 1024);
    ASSERT_OK(bd_tar_read(&t, buf + at, len - at, 1, 4096, m, 4, &count, &used, &need, &e), &e);
    ASSERT_INT(count, ==, 1);
    ASSERT(name_is(&t, &m[0], "after"));
    ASSERT_INT(t.ended, ==, 1);
    bd_tar_free(&t);
}

TEST(tar_damage_is_corrupt)
{
    size_t len = 0, count, used, need;
    bd_tar t;
    bd_tar_member m[4];
    bd_error e;
    memset(&t, 0, sizeof t);
    add(buf, &len, "f", '0', "data", 4);
    buf[10] ^= 1;  /* the checksum no longer holds */
    ASSERT_STATUS(bd_tar_read(&t, buf, len, 1, 1 << 20, m, 4, &count, &used, &need, &e), BD_E_CORRUPT, &e);
    ASSERT_STR(e.op, "bad checksum");
    bd_tar_free(&t);

    len = 0;
    memset(&t, 0, sizeof t);
    add(buf, &len, "good", '0', "1", 1);
    add(buf, &len, "broken", '0', "2", 1);
    buf[1024 + 3] ^= 1;
    ASSERT_OK(bd_tar_read(&t, buf, len, 1, 1 << 20, m, 4, &count, &used, &need, &e), &e);
    ASSERT_INT(count, ==, 1);  /* what came before the damage first */
    ASSERT_INT(used, ==, 1024);
    ASSERT_STATUS(bd_tar_read(&t, buf + used, len - used, 1, 1 << 20, m, 4, &count, &used, &need, &e),
                  BD_E_CORRUPT, &e);
    ASSERT_STR(e.op, "bad checksum");
    bd_tar_free(&t);

    len = 0;
    memset(&t, 0, sizeof t);
    add(buf, &len, "cut", '0', "data", 4);
    ASSERT_STATUS(bd_tar_read(&t, buf, 600, 1, 1 << 20, m, 4, &count, &used, &need, &e), BD_E_CORRUPT, &e);
    ASSERT_STR(e.op, "unexpected end of data");
    ASSERT_STR(e.path, "cut");
    bd_tar_free(&t);

    len = 0;
    memset(&t, 0, sizeof t);
    add(buf, &len, "sparse", 'S', "", 0);
    ASSERT_STATUS(bd_tar_read(&t, buf, len, 1, 1 << 20, m, 4, &count, &used, &need, &e), BD_E_CORRUPT, &e);
    ASSERT(strstr(e.op, "sparse") != NULL);
    bd_tar_free(&t);

    len = 0;
    memset(&t, 0, sizeof t);
    const char bad[] = "99 path=x\n";
    add(buf, &len, "p", 'x', bad, sizeof bad - 1);
    ASSERT_STATUS(bd_tar_read(&t, buf, len, 1, 1 << 20, m, 4, &count, &used, &need, &e), BD_E_CORRUPT, &e);
    ASSERT_STR(e.op, "invalid pax header");
    bd_tar_free(&t);
}

TEST(tar_base256_size_and_v7_directory)
{
    size_t len = 0, count, used, need;
    bd_tar t;
    bd_tar_member m[2];
    bd_error e;
    memset(&t, 0, sizeof t);
    header(buf, "old/", '\0', 0, 0);
    memset(buf + 124, 0, 12);
    buf[124] = 0x80;
    buf[135] = 3;  /* base-256 size 3, ignored for a directory */
    reseal(buf);
    len = 512;
    end(buf, &len);
    ASSERT_OK(bd_tar_read(&t, buf, len, 1, 1 << 20, m, 2, &count, &used, &need, &e), &e);
    ASSERT_INT(count, ==, 1);
    ASSERT_INT(m[0].type, ==, '5');
    ASSERT_INT(m[0].size, ==, 0);
    bd_tar_free(&t);
}
