/*
 * awsjson internals shared by json.c (names, field shapes, UTF-8),
 * json_decode.c (JSON -> protobuf) and json_encode.c (protobuf -> JSON).
 * Not part of the module's contract: include only from server/aws/json*.c.
 * Everything here is pure and reads protobuf-c descriptors only.
 */
#ifndef COFFER_AWS_JSON_INT_H
#define COFFER_AWS_JSON_INT_H

#include <stddef.h>

#include <protobuf-c/protobuf-c.h>

#include "aws/json.h"

#define NAME_MAX_LEN 128

/* Presence markers: a field named "<x>_present" is never a JSON member
 * (either direction); a bool "<x>_present" set true makes the repeated
 * field x appear even when empty (Tags: [] once a secret was tagged). */
#define PRESENT_SUFFIX "_present"

/* The member of type `type` at byte offset off in message m. */
#define MEMBER(type, m, off) ((type *)(void *)((char *)(m) + (off)))

/* Whether d is a map entry: named *Entry (protobuf's own convention for
 * map<K,V>) with exactly a string "key" and a singular "value"; sets *key
 * and *value (borrowed from d) when it is. */
int awsjson__map_entry(const ProtobufCMessageDescriptor *d, const ProtobufCFieldDescriptor **key,
                       const ProtobufCFieldDescriptor **value);

/* Whether d's only field is repeated (StageList): that bare array in JSON. */
int awsjson__bare_array(const ProtobufCMessageDescriptor *d);

/* Bytes one element of type t takes in a repeated field's array. */
size_t awsjson__elem_size(ProtobufCType t);

/* Whether a value of type t is held by pointer (string, message). */
int awsjson__pointer_type(ProtobufCType t);

/* Whether f is a presence marker ("<x>_present"), never a JSON member. */
int awsjson__is_marker(const ProtobufCFieldDescriptor *f);

/* Length of the valid UTF-8 sequence of 2-4 bytes at p (n bytes left), or 0. */
size_t awsjson__utf8_seq(const unsigned char *p, size_t n);

/* Whether s[0..n) is valid UTF-8 (no overlongs, surrogates, > U+10FFFF). */
int awsjson__utf8_valid(const char *s, size_t n);

#endif
