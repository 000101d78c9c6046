package main

// ABI consistency of libstark.so against abi/stark.h. The C programs of
// capi/testdata/c exercise the functions (make test-c); these tests check
// the sets: what the header declares, what the library exports, that the
// header compiles cleanly as C11 and C++17 and links, and that every
// declared function is called by some C test program.

import (
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// abiRoot is the repository root (go test runs in capi/).
func abiRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// abiTool finds a program the test needs; without it the test is skipped,
// unless STARK_CTEST_REQUIRE is set (make test-c sets it).
func abiTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("STARK_CTEST_REQUIRE") != "" {
			t.Fatalf("%s is needed: %v", name, err)
		}
		t.Skipf("%s not found", name)
	}
	return p
}

// abiLib returns the path of the built libstark.so.<major>:
// $STARK_CTEST_LIB when set (make test-c passes $(LIB)), else what
// `make lib` builds in build/lib.
func abiLib(t *testing.T, root string, major string) string {
	t.Helper()
	if p := os.Getenv("STARK_CTEST_LIB"); p != "" {
		if !filepath.IsAbs(p) {
			p = filepath.Join(root, p)
		}
		return p
	}
	mk := abiTool(t, "make")
	if out, err := exec.Command(mk, "-s", "-C", root, "lib").CombinedOutput(); err != nil {
		t.Fatalf("make lib: %v\n%s", err, out)
	}
	return filepath.Join(root, "build", "lib", "libstark.so."+major)
}

var (
	reBlockComment = regexp.MustCompile(`(?s)/\*.*?\*/`)
	reLineComment  = regexp.MustCompile(`//[^\n]*`)
	reSpace        = regexp.MustCompile(`\s+`)
	// A prototype: return type, the name, a parameter list, nothing after.
	reProto = regexp.MustCompile(`^(?:extern\s+)?[A-Za-z_][\w\s\*]*?[\s\*](stark_\w+)\s*\(([^()]*)\)$`)
	reMajor = regexp.MustCompile(`(?m)^#define STARK_ABI_VERSION_MAJOR (\d+)`)
)

// headerFunctions returns the functions stark.h declares, in order. It
// strips comments, drops the C++-only `extern "C"` wrapper and every other
// preprocessor line, splits the rest into top-level declarations at ';'
// (outside braces and parentheses, so structs and multi-line prototypes
// stay whole) and keeps the declarations of functions (not typedefs of
// function pointers).
func headerFunctions(src string) ([]string, error) {
	src = reBlockComment.ReplaceAllStringFunc(src, func(c string) string {
		return strings.Repeat("\n", strings.Count(c, "\n")) // keep line structure
	})
	src = reLineComment.ReplaceAllString(src, "")
	src = strings.ReplaceAll(src, "\\\n", " ") // continued #define lines
	var kept []string
	skip, depth := 0, 0 // inside #ifdef __cplusplus: the extern "C" braces
	for _, line := range strings.Split(src, "\n") {
		l := strings.TrimSpace(line)
		if strings.HasPrefix(l, "#") {
			d := strings.Fields(strings.TrimSpace(l[1:]))
			if len(d) == 0 {
				continue
			}
			switch d[0] {
			case "if", "ifdef", "ifndef":
				depth++
				if skip == 0 && d[0] == "ifdef" && len(d) > 1 && d[1] == "__cplusplus" {
					skip = depth
				}
			case "endif":
				if skip == depth {
					skip = 0
				}
				depth--
			}
			continue
		}
		if skip == 0 {
			kept = append(kept, line)
		}
	}
	body := strings.Join(kept, "\n")
	var decls []string
	var cur strings.Builder
	braces, parens := 0, 0
	for _, r := range body {
		switch r {
		case '{':
			braces++
		case '}':
			braces--
		case '(':
			parens++
		case ')':
			parens--
		}
		if braces < 0 || parens < 0 {
			return nil, fmt.Errorf("unbalanced braces or parentheses near %q", cur.String())
		}
		if r == ';' && braces == 0 && parens == 0 {
			decls = append(decls, strings.TrimSpace(reSpace.ReplaceAllString(cur.String(), " ")))
			cur.Reset()
			continue
		}
		cur.WriteRune(r)
	}
	if rest := strings.TrimSpace(cur.String()); rest != "" {
		return nil, fmt.Errorf("text after the last declaration: %q", rest)
	}
	var fns []string
	for _, d := range decls {
		if strings.HasPrefix(d, "typedef ") || strings.Contains(d, "{") {
			continue
		}
		m := reProto.FindStringSubmatch(d)
		if m == nil {
			if strings.Contains(d, "(") {
				return nil, fmt.Errorf("a declaration that is no prototype this test understands: %q", d)
			}
			continue
		}
		if slices.Contains(fns, m[1]) {
			return nil, fmt.Errorf("%s is declared twice", m[1])
		}
		fns = append(fns, m[1])
	}
	return fns, nil
}

// abiHeader reads abi/stark.h and returns its functions and ABI major.
func abiHeader(t *testing.T, root string) ([]string, string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "abi", "stark.h"))
	if err != nil {
		t.Fatal(err)
	}
	fns, err := headerFunctions(string(b))
	if err != nil {
		t.Fatalf("parsing abi/stark.h: %v", err)
	}
	if len(fns) < 40 || !slices.Contains(fns, "stark_abi_version") || !slices.Contains(fns, "stark_poll_done") {
		t.Fatalf("parsed only %d functions from abi/stark.h: %v", len(fns), fns)
	}
	m := reMajor.FindStringSubmatch(string(b))
	if m == nil {
		t.Fatal("abi/stark.h has no STARK_ABI_VERSION_MAJOR")
	}
	return fns, m[1]
}

func TestABIHeaderParser(t *testing.T) {
	src := `
#ifndef X_H
#define X_H
#define LONG_MACRO(a) \
    ((a) + 1)
#ifdef __cplusplus
extern "C" {
#endif
/* stark_not_a_function(void); in a comment */
typedef struct s { int a; int (*fn)(int); } s;
typedef int (*stark_cb)(int x);
int stark_one(void);
const char *stark_two(const s *p,
                      size_t n); // trailing comment
stark_status
stark_three(uint64_t a, void (*cb)(void));
#ifdef __cplusplus
}
#endif
#endif
`
	// A pointer-to-function parameter has nested parentheses: the
	// parser must refuse what it does not understand rather than skip it.
	if _, err := headerFunctions(src); err == nil || !strings.Contains(err.Error(), "stark_three") {
		t.Fatalf("want an error naming stark_three, got %v", err)
	}
	src = strings.Replace(src, "void (*cb)(void)", "stark_cb cb", 1)
	fns, err := headerFunctions(src)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"stark_one", "stark_two", "stark_three"}; !slices.Equal(fns, want) {
		t.Fatalf("got %v, want %v", fns, want)
	}
}

// TestABISymbols: every function stark.h declares is a defined, global
// function in libstark.so's dynamic symbol table (what nm -D
// --defined-only lists), and nothing else there starts with "stark" (no
// undeclared export, no internal stark__ helper of the C files). Go's own
// exports (_cgo_*, crosscall2, x_cgo_*, ...) are not ours and not checked.
func TestABISymbols(t *testing.T) {
	root := abiRoot(t)
	fns, major := abiHeader(t, root)
	lib := abiLib(t, root, major)
	f, err := elf.Open(lib)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	syms, err := f.DynamicSymbols()
	if err != nil {
		t.Fatal(err)
	}
	exported := map[string]elf.SymType{}
	for _, s := range syms {
		bind := elf.ST_BIND(s.Info)
		if s.Section == elf.SHN_UNDEF || (bind != elf.STB_GLOBAL && bind != elf.STB_WEAK) {
			continue
		}
		if strings.HasPrefix(s.Name, "stark") {
			exported[s.Name] = elf.ST_TYPE(s.Info)
		}
	}
	for _, fn := range fns {
		typ, ok := exported[fn]
		switch {
		case !ok:
			t.Errorf("%s is declared in abi/stark.h but not exported by %s", fn, lib)
		case typ != elf.STT_FUNC:
			t.Errorf("%s is exported as %v, not a function", fn, typ)
		}
	}
	for name := range exported {
		if !slices.Contains(fns, name) {
			t.Errorf("%s is exported by %s but not declared in abi/stark.h", name, lib)
		}
	}
	sonames, err := f.DynString(elf.DT_SONAME)
	if err != nil || len(sonames) != 1 || sonames[0] != "libstark.so."+major {
		t.Errorf("SONAME %v (%v), want libstark.so.%s", sonames, err, major)
	}
	if !t.Failed() {
		t.Logf("%d functions declared and exported", len(fns))
	}
}

// TestABIHeaderCompiles: stark.h compiles cleanly as C11 and C++17 (twice
// in one unit: the include guard), and a unit that takes the address of
// every declared function, in C and in C++, links against libstark.so.
func TestABIHeaderCompiles(t *testing.T) {
	root := abiRoot(t)
	fns, major := abiHeader(t, root)
	lib := abiLib(t, root, major)
	cc, cxx := abiTool(t, "gcc"), abiTool(t, "g++")
	dir := t.TempDir()
	// The same unit in both languages; only the cast is spelled differently.
	unit := func(cast string) string {
		var b strings.Builder
		b.WriteString("#include \"stark.h\"\n#include \"stark.h\"\n")
		b.WriteString("typedef void (*stark_fnptr)(void);\nstatic const stark_fnptr stark_functions[] = {\n")
		for _, fn := range fns {
			fmt.Fprintf(&b, "    "+cast+",\n", "&"+fn)
		}
		fmt.Fprintf(&b, `};
int main(void) {
    unsigned n = 0;
    for (unsigned i = 0; i < sizeof stark_functions / sizeof stark_functions[0]; i++) n += stark_functions[i] != 0;
    return n == %d && STARK_ABI_COMPATIBLE(stark_abi_version()) ? 0 : 1;
}
`, len(fns))
		return b.String()
	}
	cSrc, cxxSrc := filepath.Join(dir, "abi.c"), filepath.Join(dir, "abi.cpp")
	if err := os.WriteFile(cSrc, []byte(unit("(stark_fnptr)%s")), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cxxSrc, []byte(unit("reinterpret_cast<stark_fnptr>(%s)")), 0o644); err != nil {
		t.Fatal(err)
	}
	inc, libDir := "-I"+filepath.Join(root, "abi"), filepath.Dir(lib)
	link := []string{"-L" + libDir, "-lstark", "-Wl,-rpath," + libDir}
	for _, c := range []struct {
		name string
		args []string
	}{
		{"C11", append([]string{cc, "-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic", "-Wstrict-prototypes", inc, "-o", filepath.Join(dir, "abi-c"), cSrc}, link...)},
		{"C99", []string{cc, "-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", inc, "-fsyntax-only", cSrc}},
		{"C++17", append([]string{cxx, "-std=c++17", "-Wall", "-Wextra", "-Werror", "-pedantic", inc, "-o", filepath.Join(dir, "abi-cxx"), cxxSrc}, link...)},
	} {
		if out, err := exec.Command(c.args[0], c.args[1:]...).CombinedOutput(); err != nil {
			t.Errorf("%s: %s: %v\n%s", c.name, strings.Join(c.args, " "), err, out)
		}
	}
	if t.Failed() {
		return
	}
	for _, bin := range []string{"abi-c", "abi-cxx"} {
		if out, err := exec.Command(filepath.Join(dir, bin)).CombinedOutput(); err != nil {
			t.Errorf("%s: %v\n%s", bin, err, out)
		}
	}
}

// TestABICoverage: every declared function is called by at least one C
// test program (capi/testdata/*/*.c), so a new function cannot land
// without a test that exercises it from C.
func TestABICoverage(t *testing.T) {
	root := abiRoot(t)
	fns, _ := abiHeader(t, root)
	files, err := filepath.Glob(filepath.Join(root, "capi", "testdata", "*", "*.c"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no C test programs: %v", err)
	}
	var all strings.Builder
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		all.Write(reBlockComment.ReplaceAll(b, nil))
	}
	for _, fn := range fns {
		if !regexp.MustCompile(`\b` + fn + `\s*\(`).MatchString(all.String()) {
			t.Errorf("%s is not called by any C test program in capi/testdata", fn)
		}
	}
}
