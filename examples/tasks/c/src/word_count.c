// word-count: a Lockgate task. It reads a text file from an input directory and writes a report of
// its lines, words and bytes into the output directory `output`.
//
// What it sees (see Lockgate's docs/tasks.md): argv[0] is the step's name, then the step's
// `args`; the step's `params` are environment variables; each input, output and cache is the
// directory `<name>` in the working directory `/` (inputs read-only). It prints progress to
// stdout (the build log) and exits 0 on success; on bad input it prints the reason to stderr
// and exits non-zero, which fails the build.
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// The file read when neither an argument nor the `INPUT` param names one.
#define DEFAULT_INPUT "input/data.txt"
// The output directory (the task's `outputs: [{name: output}]`).
#define OUTPUT_DIR "output"

static const char *me = "word-count";

// Prints "<name>: error: <message>" to stderr; returns main's exit code for a failure.
static int fail(const char *format, ...) {
    va_list args;
    va_start(args, format);
    fprintf(stderr, "%s: error: ", me);
    vfprintf(stderr, format, args);
    fputc('\n', stderr);
    va_end(args);
    return 1;
}

int main(int argc, char **argv) {
    if (argc > 0 && argv[0][0] != '\0') me = argv[0];
    // The file to read: the first argument, else the `INPUT` param, else the default.
    const char *input = argc > 1 ? argv[1] : getenv("INPUT");
    if (input == NULL || *input == '\0') input = DEFAULT_INPUT;

    printf("%s: reading %s\n", me, input);
    FILE *in = fopen(input, "rb");
    if (in == NULL) return fail("cannot read %s: %s", input, strerror(errno));
    size_t lines = 0, words = 0, size = 0, blank = 1;
    int in_word = 0, c;
    while ((c = fgetc(in)) != EOF) {
        size++;
        if (c == '\n') lines++;
        if (isspace(c)) {
            in_word = 0;
        } else {
            blank = 0;
            if (!in_word) words++;
            in_word = 1;
        }
    }
    int read_error = ferror(in);
    fclose(in);
    if (read_error) return fail("cannot read %s: read error", input);
    if (blank) return fail("%s is empty", input);
    printf("%s: %zu lines, %zu words, %zu bytes\n", me, lines, words, size);

    const char *out_path = OUTPUT_DIR "/report.txt";
    FILE *out = fopen(out_path, "w");
    if (out == NULL) return fail("cannot write %s: %s", out_path, strerror(errno));
    fprintf(out, "file: %s\nlines: %zu\nwords: %zu\nbytes: %zu\n", input, lines, words, size);
    if (fclose(out) != 0) return fail("cannot write %s: %s", out_path, strerror(errno));
    printf("%s: wrote %s\n", me, out_path);
    return 0;
}
