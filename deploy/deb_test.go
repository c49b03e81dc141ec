package deploy

import (
	"bytes"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/gatescan/gatescan/internal/agenttest"
)

// debTools are what building and installing the package needs; dpkg and
// dpkg-deb come with every Debian system, the rest with `make test-deps`.
var debTools = []string{"dpkg", "dpkg-deb", "dpkg-query", "dpkg-shlibdeps", "strip", "readelf", "systemd-sysusers", "systemd-tmpfiles", "lintian"}

// run runs a command and returns its standard output; it fails the test
// with all the command said if the command fails.
func run(t *testing.T, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, out.String(), errOut.String())
	}
	return out.String()
}

// scratchRoot is an empty system for dpkg --root: its database and /etc.
func scratchRoot(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	for _, d := range []string{"var/lib/dpkg/info", "var/lib/dpkg/updates", "etc"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"var/lib/dpkg/status", "var/lib/dpkg/available"} {
		if err := os.WriteFile(filepath.Join(root, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// dpkg runs dpkg on the scratch root. The maintainer scripts run on this
// system with DPKG_ROOT set (--force-script-chrootless), as they do when a
// system is bootstrapped; the root has none of the libraries the package
// depends on (--force-depends: they are this system's, where the installed
// binary runs).
func dpkg(t *testing.T, root string, args ...string) string {
	t.Helper()
	return run(t, nil, "dpkg", append([]string{"--root=" + root, "--force-script-chrootless", "--force-depends",
		"--log=" + filepath.Join(root, "dpkg.log")}, args...)...)
}

// account finds name's numeric id in the scratch root's passwd or group.
func account(t *testing.T, root, file, name string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "etc", file))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Split(l, ":")
		if len(f) >= 4 && f[0] == name {
			id, _ := strconv.Atoi(f[2])
			return id
		}
	}
	t.Fatalf("no %s in the scratch root's /etc/%s:\n%s", name, file, b)
	return 0
}

// TestDebianPackage builds the package as `make deb` does (from the test's
// binary), checks its Depends against what the binary links and lintian's
// verdict, installs it into a scratch root with dpkg and checks what the
// maintainer scripts made (user, inboxes, the config's group) and that the
// installed binary passes `gatescan config check` on the installed config;
// then upgrades it twice over a technician's edit of the config (same
// default, and a changed default with --force-confold, as unattended
// upgrades run) and purges it.
func TestDebianPackage(t *testing.T) {
	for _, tool := range debTools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is missing: the package is built and installed with Debian's tools (apt-get install dpkg-dev lintian systemd binutils)", tool)
		}
	}
	if os.Geteuid() != 0 {
		t.Skip("installing a package into a scratch root sets owners: run as root")
	}
	bin := agenttest.BuildBinary(t)
	out := t.TempDir()
	build := func(version string) string {
		t.Helper()
		// gzip: xz takes seconds longer over the 20 MB binary.
		return strings.TrimSpace(run(t, []string{"DEB_COMPRESSION=gzip"}, "debian/mkdeb.sh", bin, version, out))
	}
	v1 := build("1.0")

	t.Run("depends", func(t *testing.T) {
		depends := run(t, nil, "dpkg-deb", "--field", v1, "Depends")
		if strings.Contains(depends, "-dev") {
			t.Errorf("Depends names a development package: %s", depends)
		}
		// Every OpenCV library the binary links (its own NEEDED entries, not
		// what those pull in), by the package that has it, and no other.
		needed := regexp.MustCompile(`\(NEEDED\)\s+Shared library: \[(libopencv_\S+)\]`).FindAllStringSubmatch(run(t, nil, "readelf", "-d", bin), -1)
		if len(needed) == 0 {
			t.Fatal("readelf shows no OpenCV library among the binary's NEEDED")
		}
		ldd := run(t, nil, "ldd", bin)
		want := map[string]bool{}
		for _, m := range needed {
			path := regexp.MustCompile(regexp.QuoteMeta(m[1]) + ` => (\S+)`).FindStringSubmatch(ldd)
			if path == nil {
				t.Fatalf("ldd does not resolve %s:\n%s", m[1], ldd)
			}
			// dpkg knows the file by its real path (/lib is /usr/lib).
			real, err := filepath.EvalSymlinks(path[1])
			if err != nil {
				t.Fatal(err)
			}
			owner, _, _ := strings.Cut(run(t, nil, "dpkg", "-S", real), ":")
			want[owner] = true
		}
		got := map[string]bool{}
		for _, d := range strings.Split(strings.TrimSpace(depends), ", ") {
			if name, _, _ := strings.Cut(d, " "); strings.HasPrefix(name, "libopencv") {
				got[name] = true
			}
		}
		if !maps.Equal(got, want) {
			t.Errorf("Depends names the OpenCV packages %v; the binary links those of %v", slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(want)))
		}
	})

	t.Run("lintian", func(t *testing.T) {
		// The test's binary is not built as a PIE (make deb's is: a second
		// build of gocv would cost minutes here).
		report := run(t, nil, "lintian", "--suppress-tags", "hardening-no-pie,hardening-no-bindnow", v1)
		for _, l := range strings.Split(report, "\n") {
			if strings.HasPrefix(l, "E: ") || strings.HasPrefix(l, "W: ") {
				t.Errorf("lintian: %s", l)
			}
		}
	})

	root := scratchRoot(t)
	dpkg(t, root, "--install", v1)
	for _, f := range []string{"usr/bin/gatescan", "lib/systemd/system/gatescan.service", "usr/lib/sysusers.d/gatescan.conf",
		"usr/lib/tmpfiles.d/gatescan.conf", "usr/share/doc/gatescan/README.md", "usr/share/doc/gatescan/copyright",
		"usr/share/doc/gatescan/examples/prometheus/gatescan.rules.yml", "usr/share/doc/gatescan/examples/grafana/gatescan.json"} {
		if _, err := os.Stat(filepath.Join(root, f)); err != nil {
			t.Errorf("not installed: %v", err)
		}
	}
	unit, _ := os.ReadFile(filepath.Join(root, "lib/systemd/system/gatescan.service"))
	if !bytes.Contains(unit, []byte("\nExecStart=/usr/bin/gatescan run --config /etc/gatescan/gatescan.yaml\n")) ||
		!bytes.Contains(unit, []byte("file:///usr/share/doc/gatescan/README.md")) || bytes.Contains(unit, []byte("/usr/local/")) {
		t.Errorf("the unit does not run and document the packaged binary:\n%s", unit)
	}
	if got := run(t, nil, "dpkg-query", "--admindir="+filepath.Join(root, "var/lib/dpkg"), "-W", "-f=${Status}|${Conffiles}", "gatescan"); !strings.HasPrefix(got, "install ok installed| /etc/gatescan/gatescan.yaml ") {
		t.Errorf("dpkg's record of the package: %q, want it installed with the config as its conffile", got)
	}

	// What postinst made.
	uid, gid := account(t, root, "passwd", "gatescan"), account(t, root, "group", "gatescan")
	if grp, _ := os.ReadFile(filepath.Join(root, "etc/group")); !regexp.MustCompile(`(?m)^dialout:x:\d+:(.*,)?gatescan(,|$)`).Match(grp) {
		t.Errorf("gatescan is not in dialout (the indicators' ports):\n%s", grp)
	}
	for dir, mode := range map[string]os.FileMode{
		"var/spool/gatescan":              0o750 | os.ModeDir,
		"var/spool/gatescan/scans":        0o770 | os.ModeSetgid | os.ModeDir,
		"var/spool/gatescan/declarations": 0o770 | os.ModeSetgid | os.ModeDir,
		"var/lib/gatescan":                0o750 | os.ModeDir,
	} {
		checkOwner(t, root, dir, mode, uid, gid)
	}
	conf := filepath.Join(root, "etc/gatescan/gatescan.yaml")
	checkOwner(t, root, "etc/gatescan/gatescan.yaml", 0o640, 0, gid)
	installed := filepath.Join(root, "usr/bin/gatescan")
	if got := run(t, nil, installed, "config", "check", conf); !strings.Contains(got, "ok") {
		t.Errorf("gatescan config check on the installed config: %s", got)
	}

	// A technician edits the config; the upgrade keeps it.
	orig, err := os.ReadFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	edited := regexp.MustCompile(`(?m)^gate: .*$`).ReplaceAll(orig, []byte("gate: gate-7 # edited on site"))
	if bytes.Equal(edited, orig) {
		t.Fatal("the default config has no top-level gate: key to edit")
	}
	if err := os.WriteFile(conf, edited, 0o640); err != nil {
		t.Fatal(err)
	}
	keptEdit := func(version string) {
		t.Helper()
		if got, _ := os.ReadFile(conf); !bytes.Equal(got, edited) {
			t.Errorf("upgrade to %s changed the edited config", version)
		}
		checkOwner(t, root, "etc/gatescan/gatescan.yaml", 0o640, 0, gid)
		if got := run(t, nil, installed, "config", "check", conf); !strings.Contains(got, "ok") {
			t.Errorf("config check after the upgrade to %s: %s", version, got)
		}
		if v := run(t, nil, "dpkg-query", "--admindir="+filepath.Join(root, "var/lib/dpkg"), "-W", "-f=${Version}", "gatescan"); v != version {
			t.Errorf("installed version %q after upgrading to %s", v, version)
		}
	}
	dpkg(t, root, "--install", build("1.1"))
	keptEdit("1.1")
	if m, _ := filepath.Glob(conf + ".dpkg-*"); len(m) != 0 {
		t.Errorf("an upgrade with the same default config left %v", m)
	}

	// A newer default config: dpkg keeps the edit (--force-confold, as
	// `apt-get -o Dpkg::Options::=--force-confold` runs unattended) and
	// puts the new default beside it.
	v12 := repack(t, build("1.2"), "1.2", func(tree string) {
		f := filepath.Join(tree, "etc/gatescan/gatescan.yaml")
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f, append(b, "# a newer default\n"...), 0o640); err != nil {
			t.Fatal(err)
		}
	})
	dpkg(t, root, "--force-confdef", "--force-confold", "--install", v12)
	keptEdit("1.2")
	if dist, err := os.ReadFile(conf + ".dpkg-dist"); err != nil || !bytes.HasSuffix(dist, []byte("# a newer default\n")) {
		t.Errorf("the new default is not beside the edited config as .dpkg-dist: %v", err)
	}

	// Purge: files, config, buffer and inboxes go; the user stays.
	dpkg(t, root, "--purge", "gatescan")
	for _, f := range []string{"usr/bin/gatescan", "etc/gatescan/gatescan.yaml", "var/lib/gatescan", "var/spool/gatescan"} {
		if _, err := os.Stat(filepath.Join(root, f)); err == nil {
			t.Errorf("%s is left after purge", f)
		}
	}
	account(t, root, "passwd", "gatescan")
}

func checkOwner(t *testing.T, root, path string, mode os.FileMode, uid, gid int) {
	t.Helper()
	var st syscall.Stat_t
	fi, err := os.Stat(filepath.Join(root, path))
	if err != nil {
		t.Errorf("%s: %v", path, err)
		return
	}
	if err := syscall.Stat(filepath.Join(root, path), &st); err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&(os.ModePerm|os.ModeSetgid|os.ModeDir) != mode || int(st.Uid) != uid || int(st.Gid) != gid {
		t.Errorf("%s: mode %v owner %d:%d, want %v %d:%d", path, fi.Mode(), st.Uid, st.Gid, mode, uid, gid)
	}
}

// repack rewrites a package: its tree changed by edit, under a new
// version.
func repack(t *testing.T, deb, version string, edit func(tree string)) string {
	t.Helper()
	tree := filepath.Join(t.TempDir(), "tree")
	run(t, nil, "dpkg-deb", "--raw-extract", deb, tree)
	edit(tree)
	control := filepath.Join(tree, "DEBIAN/control")
	c, err := os.ReadFile(control)
	if err != nil {
		t.Fatal(err)
	}
	c = regexp.MustCompile(`(?m)^Version: .*$`).ReplaceAll(c, []byte("Version: "+version))
	if err := os.WriteFile(control, c, 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "gatescan_"+version+".deb")
	run(t, nil, "dpkg-deb", "--root-owner-group", "-Zgzip", "--build", tree, out)
	return out
}
