package roost_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// Size limits of the module's code (tests aside), from STYLE.md §8: the
// habits of the projects Roost measures itself against.
const (
	maxFileLines   = 550 // a longer file usually holds two ideas
	maxMedianLines = 10  // functions fit on a screen; most are short
)

// TestCodeSize fails when a non-test Go file passes maxFileLines, or when
// the median function (or method) passes maxMedianLines.
func TestCodeSize(t *testing.T) {
	t.Parallel()
	fset := token.NewFileSet()
	var lengths []int
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return err
		case d.IsDir() && path != "." && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")):
			return fs.SkipDir
		case d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go"):
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		if n := fset.Position(f.End()).Line; n > maxFileLines {
			t.Errorf("%s has %d lines, more than %d: does it hold two ideas?", path, n, maxFileLines)
		}
		for _, decl := range f.Decls {
			if fn, ok := decl.(*ast.FuncDecl); ok && fn.Body != nil {
				lengths = append(lengths, fset.Position(fn.End()).Line-fset.Position(fn.Pos()).Line+1)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(lengths)
	if len(lengths) == 0 {
		t.Fatal("no functions found")
	}
	median, p90 := lengths[len(lengths)/2], lengths[len(lengths)*9/10]
	t.Logf("%d functions: median %d lines, p90 %d", len(lengths), median, p90)
	if median > maxMedianLines {
		t.Errorf("the median function has %d lines, more than %d", median, maxMedianLines)
	}
}
