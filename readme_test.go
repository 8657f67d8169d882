package roost_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestREADME_GoCode compiles and vets every ```go block of the README as
// a package of its own inside this module, and runs the tests among them,
// so that the code users copy cannot rot. Each block is a whole file: it
// starts with its package clause; one that holds a TestXxx function is a
// test file. The packages live for the test's duration in a directory whose
// name starts with "_", which ./... patterns skip.
func TestREADME_GoCode(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := goBlocks(string(readme))
	if len(blocks) == 0 {
		t.Fatal("the README has no ```go block")
	}
	dir, err := os.MkdirTemp(".", "_readme-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	var pkgs []string
	for _, b := range blocks {
		if !strings.HasPrefix(b.code, "package ") {
			t.Errorf("README.md:%d: a ```go block must be a whole file, starting with its package clause", b.line)
			continue
		}
		name := "main.go"
		if strings.Contains(b.code, "func Test") {
			name = "readme_test.go"
		}
		pkg := filepath.Join(dir, fmt.Sprintf("line%04d", b.line))
		if err := os.Mkdir(pkg, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(pkg, name), []byte(b.code), 0o600); err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, "./"+filepath.ToSlash(pkg))
	}
	for _, args := range [][]string{{"vet"}, {"test", "-count=1"}} {
		cmd := exec.Command("go", append(args, pkgs...)...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			t.Fatalf("go %s of the README's Go blocks (each in a directory named by its line): %v\n%s", args[0], err, out.String())
		}
		t.Logf("go %s:\n%s", args[0], out.String())
	}
}

type codeBlock struct {
	line int // of the opening fence, 1-based
	code string
}

// goBlocks returns the ```go blocks of a Markdown text.
func goBlocks(md string) []codeBlock {
	var blocks []codeBlock
	var cur *strings.Builder
	start := 0
	for i, line := range strings.Split(md, "\n") {
		switch {
		case cur == nil && strings.TrimSpace(line) == "```go":
			cur, start = &strings.Builder{}, i+1
		case cur != nil && strings.TrimSpace(line) == "```":
			blocks = append(blocks, codeBlock{line: start, code: cur.String()})
			cur = nil
		case cur != nil:
			cur.WriteString(line + "\n")
		}
	}
	return blocks
}
