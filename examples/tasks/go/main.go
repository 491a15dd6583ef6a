// word-count: a Lockgate task. It reads a text file from an input directory and writes a report of
// its lines, words and bytes into the output directory `output`.
//
// What it sees (see Lockgate's docs/tasks.md): os.Args[0] is the step's name, then the step's
// `args`; the step's `params` are environment variables; each input, output and cache is the
// directory `<name>` in the working directory `/` (inputs read-only). It prints progress to
// stdout (the build log) and exits 0 on success; on bad input it prints the reason to stderr
// and exits non-zero, which fails the build.
package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// The file read when neither an argument nor the `INPUT` param names one.
const defaultInput = "input/data.txt"

// The output directory (the task's `outputs: [{name: output}]`).
const outputDir = "output"

func main() {
	me := "word-count"
	if len(os.Args) > 0 && os.Args[0] != "" {
		me = os.Args[0]
	}
	// The file to read: the first argument, else the `INPUT` param, else the default.
	input := os.Getenv("INPUT")
	if len(os.Args) > 1 {
		input = os.Args[1]
	}
	if input == "" {
		input = defaultInput
	}
	if err := run(me, input); err != nil {
		fmt.Fprintf(os.Stderr, "%s: error: %v\n", me, err)
		os.Exit(1)
	}
}

func run(me, input string) error {
	fmt.Printf("%s: reading %s\n", me, input)
	data, err := os.ReadFile(fromRoot(input))
	if err != nil {
		return fmt.Errorf("cannot read %s: %w", input, unwrapPath(err))
	}
	words := len(bytes.Fields(data))
	if words == 0 {
		return fmt.Errorf("%s is empty", input)
	}
	lines := bytes.Count(data, []byte("\n"))
	fmt.Printf("%s: %d lines, %d words, %d bytes\n", me, lines, words, len(data))

	report := fmt.Sprintf("file: %s\nlines: %d\nwords: %d\nbytes: %d\n", input, lines, words, len(data))
	out := filepath.Join(outputDir, "report.txt")
	if err := os.WriteFile(fromRoot(out), []byte(report), 0o644); err != nil {
		return fmt.Errorf("cannot write %s: %w", out, unwrapPath(err))
	}
	fmt.Printf("%s: wrote %s\n", me, out)
	return nil
}

// fromRoot makes a relative path absolute against the task's working directory `/`. Go's
// wasip1 port takes its working directory from $PWD (Lockgate sets PWD=/), else from the first
// preopened directory (here the first input): under a host that does not set PWD,
// `input/data.txt` would be looked up as `/input/input/data.txt`.
func fromRoot(path string) string {
	if filepath.IsAbs(path) {
		return path
	}
	return filepath.Join("/", path)
}

// unwrapPath drops the "open <path>: " prefix of an *os.PathError (the message names the path).
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
