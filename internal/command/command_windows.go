package command

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/windows"
)

type sysProcAttr = syscall.SysProcAttr

// defaultPathext is PATHEXT when the environment has none: the extensions
// Windows runs, in the order it tries them.
const defaultPathext = ".COM;.EXE;.BAT;.CMD"

// newCmd finds name as a shell would, in env's PATH and PATHEXT, and runs a
// batch file through cmd.exe with a command line of its own (makeBatLine).
func newCmd(name string, args, env []string, attr *sysProcAttr) (*exec.Cmd, error) {
	path, _ := Getenv(env, "PATH")
	file, err := lookPath(name, path, env)
	if err != nil {
		return nil, err
	}
	if !isBatch(file) {
		cmd := exec.Command(file, args...)
		cmd.Env, cmd.SysProcAttr = env, attr
		return cmd, nil
	}
	shell, err := cmdExe()
	if err != nil {
		return nil, &exec.Error{Name: name, Err: err}
	}
	line, err := makeBatLine(shell, file, args)
	if err != nil {
		return nil, &exec.Error{Name: name, Err: err}
	}
	if attr == nil {
		attr = new(sysProcAttr)
	}
	attr.CmdLine = line
	cmd := exec.Command(shell)
	cmd.Args = append([]string{file}, args...) // what the child runs, for messages; CmdLine is what it gets
	cmd.Env, cmd.SysProcAttr = env, attr
	return cmd, nil
}

// sameKey compares environment names as Windows does: without case.
func sameKey(a, b string) bool { return strings.EqualFold(a, b) }

// lookPath finds name as CreateProcess's callers do: a name with a
// directory in it as it is (or with one of PATHEXT's extensions added), a
// bare name in each directory of path in turn, each time trying the name
// as given if it has an extension, then with each of PATHEXT's.
func lookPath(name, path string, env []string) (string, error) {
	exts := pathext(env)
	if strings.ContainsAny(name, `\/:`) {
		if f, ok := findFile(name, exts); ok {
			return f, nil
		}
		return "", &exec.Error{Name: name, Err: exec.ErrNotFound}
	}
	for _, dir := range filepath.SplitList(path) {
		if dir = strings.Trim(dir, `"`); dir == "" {
			continue
		}
		if f, ok := findFile(filepath.Join(dir, name), exts); ok {
			return f, nil
		}
	}
	return "", &exec.Error{Name: name, Err: exec.ErrNotFound}
}

// pathext returns env's PATHEXT as lower-case extensions with their dots.
func pathext(env []string) []string {
	v, ok := Getenv(env, "PATHEXT")
	if !ok || strings.TrimSpace(v) == "" {
		v = defaultPathext
	}
	var exts []string
	for _, e := range strings.Split(strings.ToLower(v), ";") {
		if e = strings.TrimSpace(e); e == "" {
			continue
		}
		if e[0] != '.' {
			e = "." + e
		}
		exts = append(exts, e)
	}
	return exts
}

// findFile returns the file that file names: itself if it has an
// extension and exists, else file with the first extension of exts that
// exists.
func findFile(file string, exts []string) (string, bool) {
	if filepath.Ext(file) != "" && isFile(file) {
		return file, true
	}
	for _, e := range exts {
		if f := file + e; isFile(f) {
			return f, true
		}
	}
	return "", false
}

func isFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

// isBatch reports whether file is a batch file, which only cmd.exe runs.
func isBatch(file string) bool {
	ext := strings.ToLower(filepath.Ext(file))
	return ext == ".cmd" || ext == ".bat"
}

// cmdExe returns the path of the system's cmd.exe: the system directory's,
// not whichever a PATH or COMSPEC names.
func cmdExe() (string, error) {
	dir, err := windows.GetSystemDirectory()
	if err != nil {
		return "", errors.New("finding cmd.exe: " + err.Error())
	}
	return filepath.Join(dir, "cmd.exe"), nil
}
