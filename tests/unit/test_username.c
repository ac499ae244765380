/*
 * test_username.c - who may log in (PROTOCOL.md §3.2): 1-20 bytes, every
 * character a Unicode letter (L*) or decimal digit (Nd), as Go's
 * unicode.IsLetter / unicode.IsDigit answer; invalid UTF-8 is neither.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "codec.h"
#include "unit.h"
#include "username.h"

static void
expect(const char *name, size_t len, enum username_status want)
{
	enum username_status got;

	got = username_check((struct span){ name, len });
	if (got != want)
		fail_msg("username_check(%zu bytes \"%.*s\") = %d, want %d",
		    len, (int)len, name, (int)got, (int)want);
}

#define OK(s)		expect((s), sizeof(s) - 1, USERNAME_OK)
#define BAD_CHAR(s)	expect((s), sizeof(s) - 1, USERNAME_BAD_CHAR)
#define BAD_LENGTH(s)	expect((s), sizeof(s) - 1, USERNAME_BAD_LENGTH)

static void
test_ascii(void **state)
{
	OK("alice");
	OK("Alice42");
	OK("0");
	OK("Z");
	OK("007");
	BAD_CHAR("a b");
	BAD_CHAR(" alice");
	BAD_CHAR("alice ");
	BAD_CHAR("a-b");
	BAD_CHAR("a_b");
	BAD_CHAR("a.b");
	BAD_CHAR("bob!");
	BAD_CHAR("@");
	BAD_CHAR("a\tb");
	BAD_CHAR("a\nb");
	BAD_CHAR("\x7f");
	BAD_CHAR("a\0b");
}

static void
test_length(void **state)
{
	static char big[65535];

	BAD_LENGTH("");
	assert_int_equal(username_check((struct span){ NULL, 0 }),
	    USERNAME_BAD_LENGTH);
	OK("abcdefghijklmnopqrst");			/* 20 */
	BAD_LENGTH("abcdefghijklmnopqrstu");		/* 21 */
	OK("12345678901234567890");
	BAD_LENGTH("123456789012345678901");
	/* Length is checked before the characters. */
	BAD_LENGTH("!!!!!!!!!!!!!!!!!!!!!");
	BAD_LENGTH("\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"
	    "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff");
	BAD_CHAR("!!!!!!!!!!!!!!!!!!!!");
	/* Bytes, not characters. */
	OK("\xe6\x97\xa5\xe6\x9c\xac\xe6\x97\xa5\xe6\x9c\xac"
	    "\xe6\x97\xa5\xe6\x9c\xac" "ab");		/* 日本日本日本ab: 20 */
	BAD_LENGTH("\xe6\x97\xa5\xe6\x97\xa5\xe6\x97\xa5\xe6\x97\xa5"
	    "\xe6\x97\xa5\xe6\x97\xa5\xe6\x97\xa5");	/* 日 x 7: 21 */
	OK("abcdefghijklmnopqr\xc3\xa9");		/* 18 + é: 20 */
	BAD_LENGTH("abcdefghijklmnopqrs\xc3\xa9");	/* 19 + é: 21 */
	/* The longest string the wire carries. */
	memset(big, 'a', sizeof big);
	expect(big, sizeof big, USERNAME_BAD_LENGTH);
}

static void
test_unicode_letters(void **state)
{
	OK("\xc3\xa9");				/* é, Ll */
	OK("\xc3\xa9t\xc3\xa9");		/* été */
	OK("Jos\xc3\xa9");
	OK("\xe6\x97\xa5\xe6\x9c\xac");		/* 日本, Lo */
	OK("\xce\xb1\xce\xb2\xce\xb3");		/* αβγ, Ll */
	OK("\xce\xa9");				/* Ω, Lu */
	OK("\xd0\x9c\xd0\xb8\xd1\x80");		/* Мир, Cyrillic */
	OK("\xd7\x90");				/* א, Lo */
	OK("\xc7\x85");				/* ǅ, Lt */
	OK("\xca\xb0");				/* ʰ, Lm */
	OK("\xf0\x9d\x90\x80");			/* 𝐀 U+1D400, Lu, 4 bytes */
}

static void
test_unicode_digits(void **state)
{
	OK("\xd9\xa3");				/* ٣ Arabic-Indic three, Nd */
	OK("\xe0\xa5\xab");			/* ५ Devanagari five, Nd */
	OK("\xef\xbc\x91");			/* １ fullwidth one, Nd */
	OK("a\xd9\xa3" "1");
	/* Numbers that are not decimal digits. */
	BAD_CHAR("\xc2\xbd");			/* ½, No */
	BAD_CHAR("\xc2\xb2");			/* ², No */
	BAD_CHAR("a\xc2\xb2");
	BAD_CHAR("\xe2\x85\xab");		/* Ⅻ, Nl */
	BAD_CHAR("\xe2\x91\xa0");		/* ①, No */
}

static void
test_other_categories(void **state)
{
	BAD_CHAR("e\xcc\x81");			/* e + U+0301 combining, Mn */
	BAD_CHAR("\xcc\x81");
	BAD_CHAR("\xc2\xa0");			/* no-break space, Zs */
	BAD_CHAR("a\xe2\x80\x8d" "b");		/* zero-width joiner, Cf */
	BAD_CHAR("\xf0\x9f\x98\x80");		/* 😀, So */
	BAD_CHAR("\xe2\x82\xac");		/* €, Sc */
	BAD_CHAR("\xc2\xab");			/* «, Pi */
	BAD_CHAR("\xe3\x80\x80");		/* ideographic space, Zs */
}

static void
test_invalid_utf8(void **state)
{
	BAD_CHAR("\xff");			/* never valid */
	BAD_CHAR("a\xff");
	BAD_CHAR("\xfe");
	BAD_CHAR("\x80");			/* lone continuation byte */
	BAD_CHAR("a\x80" "b");
	BAD_CHAR("\xc3");			/* truncated 2-byte sequence */
	BAD_CHAR("ab\xc3");
	BAD_CHAR("\xe6\x97");			/* truncated 3-byte sequence */
	BAD_CHAR("\xf0\x9d\x90");		/* truncated 4-byte sequence */
	BAD_CHAR("\xc3" "a");			/* continuation missing */
	BAD_CHAR("\xc1\x81");			/* overlong 'A' */
	BAD_CHAR("\xc0\x80");			/* overlong NUL */
	BAD_CHAR("\xe0\x81\x81");		/* overlong 'A', 3 bytes */
	BAD_CHAR("\xf0\x80\x81\x81");		/* overlong 'A', 4 bytes */
	BAD_CHAR("\xe0\x83\xa9");		/* overlong é */
	BAD_CHAR("\xed\xa0\x80");		/* surrogate U+D800 */
	BAD_CHAR("\xed\xbf\xbf");		/* surrogate U+DFFF */
	BAD_CHAR("\xed\xa0\xbd\xed\xb8\x80");	/* CESU-8 pair */
	BAD_CHAR("\xf4\x90\x80\x80");		/* U+110000, past Unicode */
	BAD_CHAR("\xf8\x88\x80\x80\x80");	/* 5-byte form */
}


/* What a client sends for what was typed (PROTOCOL.md §5.4). */
static void
prepared(const char *typed, enum username_status want_st, const char *want,
    int want_normalised)
{
	struct buf out = BUF_INIT;
	int normalised = -1;

	assert_int_equal(username_prepare(span_cstr(typed), &out,
	    &normalised), want_st);
	assert_span((struct span){ out.data, out.len }, want);
	assert_int_equal(normalised, want_normalised);
	buf_free(&out);
}

static void
test_prepare_nfc_only_when_needed(void **state)
{
	/* e + COMBINING ACUTE: a mark is no letter; NFC makes it one. */
	prepared("Jose\xcc\x81", USERNAME_OK, "Jos\xc3\xa9", 1);
	/* Valid as typed: sent as typed, though NFC would change it (jamo
	 * are letters, NFC composes them; KELVIN SIGN becomes K). */
	prepared("\xe1\x84\x92\xe1\x85\xa1\xe1\x86\xab", USERNAME_OK,
	    "\xe1\x84\x92\xe1\x85\xa1\xe1\x86\xab", 0);
	prepared("\xe2\x84\xaa", USERNAME_OK, "\xe2\x84\xaa", 0);
	prepared("alice", USERNAME_OK, "alice", 0);
	/* NFC does not help: as typed, with its own status. */
	prepared("bad name", USERNAME_BAD_CHAR, "bad name", 0);
	prepared("a\xcc\xb8\xcc\x81", USERNAME_BAD_CHAR,
	    "a\xcc\xb8\xcc\x81", 0);
	prepared("", USERNAME_BAD_LENGTH, "", 0);
	prepared("\xff", USERNAME_BAD_CHAR, "\xff", 0);
	/* 21 bytes as typed, 20 in NFC (ten e + U+0301, one e). */
	prepared("eeeeeeeeeeeeeeeeeee\x65\xcc\x81", USERNAME_BAD_LENGTH,
	    "eeeeeeeeeeeeeeeeeee\x65\xcc\x81", 0);
	prepared("eeeeeeeeeeeeeeeeee\x65\xcc\x81", USERNAME_OK,
	    "eeeeeeeeeeeeeeeeee\xc3\xa9", 1);
}

static void
explained(const char *name, const char *want)
{
	struct buf out = BUF_INIT;
	struct span s = span_cstr(name);

	username_explain(s, username_check(s), &out);
	buf_append(&out, "", 1);
	if (strstr(out.data, want) == NULL)
		fail_msg("explanation \"%s\" lacks \"%s\"", out.data, want);
	buf_free(&out);
}

static void
test_explain(void **state)
{
	/* Seven CJK characters, 21 bytes. */
	explained("\xe5\x90\x8d\xe5\x89\x8d\xe5\x90\x8d\xe5\x89\x8d"
	    "\xe5\x90\x8d\xe5\x89\x8d\xe5\x90\x8d", "counted in bytes");
	explained("\xe5\x90\x8d\xe5\x89\x8d\xe5\x90\x8d\xe5\x89\x8d"
	    "\xe5\x90\x8d\xe5\x89\x8d\xe5\x90\x8d", "has 21 bytes in 7 "
	    "characters");
	explained("xxxxxxxxxxxxxxxxxxxxx", "has 21 bytes");
	explained("", "empty");
	explained("bad name", "' ' (U+0020) is neither a letter nor a digit");
	explained("\xc2\xbd", "'\xc2\xbd' (U+00BD)");
	explained("a\x1b", "'^[' (U+001B)");
	explained("ab\xff", "byte 3 (0xff) is not UTF-8");
}

static void
changed(const char *typed, const char *nfc, const char *want)
{
	struct buf out = BUF_INIT;

	username_nfc_changes(span_cstr(typed), span_cstr(nfc), &out);
	buf_append(&out, "", 1);
	assert_string_equal(out.data, want);
	buf_free(&out);
}

static void
test_nfc_changes_named(void **state)
{
	/* "Jose" + COMBINING ACUTE ACCENT, and "Jos\u00e9". */
	changed("Jose\xcc\x81", "Jos\xc3\xa9", "U+0065 U+0301 became U+00E9");
	/* Two letters apart: everything between is named too. */
	changed("e\xcc\x81te\xcc\x81", "\xc3\xa9t\xc3\xa9",
	    "U+0065 U+0301 U+0074 U+0065 U+0301 became U+00E9 U+0074 U+00E9");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ascii),
		cmocka_unit_test(test_length),
		cmocka_unit_test(test_unicode_letters),
		cmocka_unit_test(test_unicode_digits),
		cmocka_unit_test(test_other_categories),
		cmocka_unit_test(test_invalid_utf8),
		cmocka_unit_test(test_prepare_nfc_only_when_needed),
		cmocka_unit_test(test_explain),
		cmocka_unit_test(test_nfc_changes_named),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
