package roost_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/roost-dev/roost"

// importRule bans some imports from the packages under one directory. Each
// rule enforces an arrow of STYLE.md §1.
type importRule struct {
	under      string // package path relative to module ("" for the root); it and the packages below it
	only       bool   // the package under itself, not the packages below it
	transitive bool   // check every dependency, not only direct imports
	why        string
	banned     func(path string, std map[string]bool) bool
}

var importRules = []importRule{
	{under: "internal/ids", transitive: true, why: "leaves import only the standard library", banned: notStandard},
	{under: "internal/errcode", transitive: true, why: "leaves import only the standard library", banned: notStandard},
	{under: "internal/clock", transitive: true, why: "leaves import only the standard library", banned: notStandard},
	{under: "internal", transitive: true, why: "internal packages never import the public API", banned: publicAPI},
	{under: "internal/store", why: "the store knows nothing of HTTP", banned: httpPackage},
	{under: "internal/store", transitive: true, why: "the cluster reaches the store through its interfaces", banned: natsPackage},
	{under: "internal/runtime", transitive: true, why: "the cluster reaches the runtime through its interfaces", banned: natsPackage},
	{under: "", only: true, why: "the root package is the vocabulary: it reaches the engine through internal/node only", banned: engineBesidesNode},
	{under: "workflow", why: "workflows are built on the public object API", banned: engineBesidesLeaves},
	{under: "cmd/roost", why: "the binary is the product: it imports the examples only through the demo wiring", banned: exampleBesidesDemo},
}

// leaves are the internal packages every layer may import.
var leaves = map[string]bool{module + "/internal/ids": true, module + "/internal/errcode": true, module + "/internal/clock": true}

func engineBesidesNode(path string, _ map[string]bool) bool {
	return engineBesidesLeaves(path, nil) && path != module+"/internal/node"
}

func engineBesidesLeaves(path string, _ map[string]bool) bool {
	return strings.HasPrefix(path, module+"/internal/") && !leaves[path]
}

func exampleBesidesDemo(path string, _ map[string]bool) bool {
	return strings.HasPrefix(path, module+"/examples/") && path != module+"/examples/demo"
}

func notStandard(path string, std map[string]bool) bool { return !std[path] }

func publicAPI(path string, _ map[string]bool) bool {
	return path == module || path == module+"/workflow" || strings.HasPrefix(path, module+"/workflow/")
}

func httpPackage(path string, _ map[string]bool) bool {
	return path == "net/http" || strings.HasPrefix(path, "net/http/")
}

func natsPackage(path string, _ map[string]bool) bool { return strings.Contains(path, "nats") }

// TestImportRules fails when a package of this module imports what the
// architecture bans. It checks only the packages that exist, so it passes on
// a tree that is still being built.
func TestImportRules(t *testing.T) {
	t.Parallel()
	pkgs := listPackages(t)
	std := make(map[string]bool)
	for _, p := range pkgs {
		if p.Standard {
			std[p.ImportPath] = true
		}
	}
	for _, p := range pkgs {
		if p.DepOnly {
			continue
		}
		for _, r := range importRules {
			checkRule(t, p, r, std)
		}
	}
}

func checkRule(t *testing.T, p listedPackage, r importRule, std map[string]bool) {
	t.Helper()
	dir := strings.TrimSuffix(module+"/"+r.under, "/")
	if p.ImportPath != dir && (r.only || !strings.HasPrefix(p.ImportPath, dir+"/")) {
		return
	}
	verb, deps := "imports", p.Imports
	if r.transitive {
		verb, deps = "depends on", p.Deps
	}
	for _, d := range deps {
		if r.banned(d, std) {
			t.Errorf("%s %s %s, but %s", p.ImportPath, verb, d, r.why)
		}
	}
}

// listedPackage holds the fields of `go list -json` that the rules read.
type listedPackage struct {
	ImportPath string
	Standard   bool
	DepOnly    bool     // a dependency, not a package of this module
	Imports    []string // direct imports, without test files
	Deps       []string // every dependency, direct or not
}

// listPackages runs `go list -deps` on the module. With -e, a package that
// does not build yet is still listed with the imports it names.
func listPackages(t *testing.T) []listedPackage {
	t.Helper()
	cmd := exec.Command("go", "list", "-e", "-deps", "-json=ImportPath,Standard,DepOnly,Imports,Deps", "./...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.Bytes())
	}
	var pkgs []listedPackage
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p listedPackage
		err := dec.Decode(&p)
		if errors.Is(err, io.EOF) {
			return pkgs
		}
		if err != nil {
			t.Fatalf("decode go list output: %v", err)
		}
		pkgs = append(pkgs, p)
	}
}
