/* A small JSON reader for Lockgate plugins written in C: parses a whole document into a tree
 * of `json_value`s (no allocation besides malloc; free with `json_free`). Enough for plugin
 * configuration (`source`, `params`, `config`): objects, arrays, strings (with \uXXXX escapes,
 * surrogate pairs included), numbers, booleans and null. Strings are NUL-terminated UTF-8.
 *
 * Public domain / MIT-0: copy it into your plugin. */
#ifndef LOCKGATE_JSON_H
#define LOCKGATE_JSON_H

#include <stdbool.h>
#include <stddef.h>

typedef enum {
    JSON_NULL,
    JSON_BOOL,
    JSON_NUMBER,
    JSON_STRING,
    JSON_ARRAY,
    JSON_OBJECT,
} json_kind;

typedef struct json_value json_value;

struct json_value {
    json_kind kind;
    bool boolean;       /* JSON_BOOL */
    double number;      /* JSON_NUMBER */
    char *string;       /* JSON_STRING; also the key of an object member */
    size_t len;         /* JSON_STRING: bytes; JSON_ARRAY/JSON_OBJECT: items */
    json_value *items;  /* JSON_ARRAY / JSON_OBJECT: `len` items in order */
    char *key;          /* set on the members of an object */
};

/* Parses `len` bytes of `text`. Returns NULL on a syntax error and writes a message (with the
 * byte offset) into `error` (`error_size` bytes). */
json_value *json_parse(const char *text, size_t len, char *error, size_t error_size);

/* Frees a tree returned by json_parse. */
void json_free(json_value *value);

/* The member `key` of an object, or NULL (also when `object` is not an object). */
const json_value *json_get(const json_value *object, const char *key);

/* The name of the kind, for messages: "a string", "an object", ... */
const char *json_kind_name(json_kind kind);

#endif
