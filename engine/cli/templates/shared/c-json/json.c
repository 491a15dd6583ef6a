/* A small JSON reader: see json.h. */
#include "json.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JSON_MAX_DEPTH 64

typedef struct {
    const char *p;
    const char *start;
    const char *end;
    char *error;
    size_t error_size;
    bool failed;
} parser;

static void fail(parser *ps, const char *what) {
    if (!ps->failed) {
        ps->failed = true;
        snprintf(ps->error, ps->error_size, "invalid JSON at byte %zu: %s",
                 (size_t)(ps->p - ps->start), what);
    }
}

static void skip_ws(parser *ps) {
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
        ps->p++;
}

static bool literal(parser *ps, const char *word) {
    size_t n = strlen(word);
    if ((size_t)(ps->end - ps->p) >= n && memcmp(ps->p, word, n) == 0) {
        ps->p += n;
        return true;
    }
    return false;
}

static int hex4(parser *ps) {
    if (ps->end - ps->p < 4) return -1;
    int v = 0;
    for (int i = 0; i < 4; i++) {
        char c = ps->p[i];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= c - '0';
        else if (c >= 'a' && c <= 'f') v |= c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') v |= c - 'A' + 10;
        else return -1;
    }
    ps->p += 4;
    return v;
}

static size_t put_utf8(char *out, uint32_t cp) {
    if (cp < 0x80) { out[0] = (char)cp; return 1; }
    if (cp < 0x800) { out[0] = (char)(0xC0 | (cp >> 6)); out[1] = (char)(0x80 | (cp & 0x3F)); return 2; }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12)); out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F)); return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18)); out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); out[3] = (char)(0x80 | (cp & 0x3F)); return 4;
}

/* Parses a string at ps->p (on the opening quote) into a malloc'd NUL-terminated buffer. */
static char *parse_string(parser *ps, size_t *out_len) {
    ps->p++; /* opening quote */
    /* The decoded text is never longer than the source text. */
    const char *q = ps->p;
    while (q < ps->end && *q != '"') q += (*q == '\\' && q + 1 < ps->end) ? 2 : 1;
    if (q >= ps->end) { fail(ps, "unterminated string"); return NULL; }
    char *out = malloc((size_t)(q - ps->p) + 1);
    if (!out) { fail(ps, "out of memory"); return NULL; }
    size_t n = 0;
    while (*ps->p != '"') {
        unsigned char c = (unsigned char)*ps->p;
        if (c < 0x20) { fail(ps, "control character in string"); free(out); return NULL; }
        if (c != '\\') { out[n++] = (char)c; ps->p++; continue; }
        ps->p++;
        char e = *ps->p++;
        switch (e) {
        case '"': out[n++] = '"'; break;
        case '\\': out[n++] = '\\'; break;
        case '/': out[n++] = '/'; break;
        case 'b': out[n++] = '\b'; break;
        case 'f': out[n++] = '\f'; break;
        case 'n': out[n++] = '\n'; break;
        case 'r': out[n++] = '\r'; break;
        case 't': out[n++] = '\t'; break;
        case 'u': {
            int cp = hex4(ps);
            if (cp < 0) { fail(ps, "bad \\u escape"); free(out); return NULL; }
            uint32_t code = (uint32_t)cp;
            if (code >= 0xD800 && code < 0xDC00 && ps->end - ps->p >= 6 && ps->p[0] == '\\' && ps->p[1] == 'u') {
                ps->p += 2;
                int lo = hex4(ps);
                if (lo < 0xDC00 || lo > 0xDFFF) { fail(ps, "bad surrogate pair"); free(out); return NULL; }
                code = 0x10000 + ((code - 0xD800) << 10) + ((uint32_t)lo - 0xDC00);
            } else if (code >= 0xD800 && code < 0xE000) {
                code = 0xFFFD;
            }
            /* \uXXXX is 6 source bytes and at most 3 UTF-8 bytes; a pair is 12 and 4. */
            n += put_utf8(out + n, code);
            break;
        }
        default: fail(ps, "bad escape in string"); free(out); return NULL;
        }
    }
    ps->p++; /* closing quote */
    out[n] = '\0';
    *out_len = n;
    return out;
}

static bool parse_value(parser *ps, json_value *v, int depth);

static bool push(parser *ps, json_value *v, size_t *cap, json_value **slot) {
    if (v->len == *cap) {
        size_t ncap = *cap ? *cap * 2 : 4;
        json_value *items = realloc(v->items, ncap * sizeof *items);
        if (!items) { fail(ps, "out of memory"); return false; }
        v->items = items;
        *cap = ncap;
    }
    *slot = &v->items[v->len];
    memset(*slot, 0, sizeof **slot);
    return true;
}

static bool parse_value(parser *ps, json_value *v, int depth) {
    memset(v, 0, sizeof *v);
    if (depth > JSON_MAX_DEPTH) { fail(ps, "nested too deeply"); return false; }
    skip_ws(ps);
    if (ps->p >= ps->end) { fail(ps, "unexpected end of input"); return false; }
    char c = *ps->p;
    if (c == '{' || c == '[') {
        bool object = c == '{';
        char close = object ? '}' : ']';
        v->kind = object ? JSON_OBJECT : JSON_ARRAY;
        size_t cap = 0;
        ps->p++;
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == close) { ps->p++; return true; }
        for (;;) {
            json_value *item;
            char *key = NULL;
            skip_ws(ps);
            if (object) {
                size_t klen;
                if (ps->p >= ps->end || *ps->p != '"') { fail(ps, "expected a string key"); return false; }
                key = parse_string(ps, &klen);
                if (!key) return false;
                skip_ws(ps);
                if (ps->p >= ps->end || *ps->p != ':') { free(key); fail(ps, "expected ':'"); return false; }
                ps->p++;
            }
            if (!push(ps, v, &cap, &item)) { free(key); return false; }
            bool ok = parse_value(ps, item, depth + 1);
            item->key = key;
            v->len++;
            if (!ok) return false;
            skip_ws(ps);
            if (ps->p < ps->end && *ps->p == ',') { ps->p++; continue; }
            if (ps->p < ps->end && *ps->p == close) { ps->p++; return true; }
            fail(ps, object ? "expected ',' or '}'" : "expected ',' or ']'");
            return false;
        }
    }
    if (c == '"') {
        v->kind = JSON_STRING;
        v->string = parse_string(ps, &v->len);
        return v->string != NULL;
    }
    if (literal(ps, "true")) { v->kind = JSON_BOOL; v->boolean = true; return true; }
    if (literal(ps, "false")) { v->kind = JSON_BOOL; return true; }
    if (literal(ps, "null")) { v->kind = JSON_NULL; return true; }
    if (c == '-' || (c >= '0' && c <= '9')) {
        char buf[64];
        size_t n = 0;
        while (ps->p < ps->end && n < sizeof buf - 1 && strchr("+-0123456789.eE", *ps->p))
            buf[n++] = *ps->p++;
        buf[n] = '\0';
        char *endp;
        v->kind = JSON_NUMBER;
        v->number = strtod(buf, &endp);
        if (*endp != '\0') { fail(ps, "bad number"); return false; }
        return true;
    }
    fail(ps, "unexpected character");
    return false;
}

static void free_children(json_value *v) {
    free(v->key);
    free(v->string);
    for (size_t i = 0; (v->kind == JSON_ARRAY || v->kind == JSON_OBJECT) && i < v->len; i++)
        free_children(&v->items[i]);
    free(v->items);
}

json_value *json_parse(const char *text, size_t len, char *error, size_t error_size) {
    parser ps = {text, text, text + len, error, error_size, false};
    json_value *root = calloc(1, sizeof *root);
    if (!root) {
        snprintf(error, error_size, "out of memory");
        return NULL;
    }
    if (parse_value(&ps, root, 0)) {
        skip_ws(&ps);
        if (ps.p != ps.end) fail(&ps, "trailing characters after the document");
    }
    if (ps.failed) {
        json_free(root);
        return NULL;
    }
    return root;
}

void json_free(json_value *value) {
    if (!value) return;
    free_children(value);
    free(value);
}

const json_value *json_get(const json_value *object, const char *key) {
    if (!object || object->kind != JSON_OBJECT) return NULL;
    for (size_t i = 0; i < object->len; i++)
        if (strcmp(object->items[i].key, key) == 0) return &object->items[i];
    return NULL;
}

const char *json_kind_name(json_kind kind) {
    switch (kind) {
    case JSON_NULL: return "null";
    case JSON_BOOL: return "a boolean";
    case JSON_NUMBER: return "a number";
    case JSON_STRING: return "a string";
    case JSON_ARRAY: return "an array";
    case JSON_OBJECT: return "an object";
    }
    return "?";
}
