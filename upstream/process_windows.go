package upstream

import (
	"errors"
	"fmt"
	"log/slog"
	"os/exec"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/windows"
)

// On Windows a child runs in a Job Object of its own, made with
// JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE: mcpmux holds the only handle to it,
// so however mcpmux ends (even TerminateProcess, a kill -9 under Wine),
// Windows closes the handle and ends every process in the job, the
// child's own children (npx.cmd's node) included. The job is what the
// keeper and the process group are on Unix.
//
// The child starts suspended and is let run only once it is in its job,
// so nothing it starts can escape; it also leads a process group of its
// own (CREATE_NEW_PROCESS_GROUP), which CTRL_BREAK asks to stop.

// jobs holds the Job Object of each running child, by its command, from
// contain until killGroup ends the job.
var jobs sync.Map // *exec.Cmd → windows.Handle

// sysProcAttr starts the child suspended (see contain) in a process group
// of its own, and without a console window of its own should mcpmux have
// no console for it to share.
func sysProcAttr() *syscall.SysProcAttr {
	flags := uint32(windows.CREATE_NEW_PROCESS_GROUP | windows.CREATE_SUSPENDED)
	if !hasConsole() {
		flags |= windows.CREATE_NO_WINDOW
	}
	return &syscall.SysProcAttr{CreationFlags: flags}
}

var getConsoleWindow = windows.NewLazySystemDLL("kernel32.dll").NewProc("GetConsoleWindow")

// hasConsole reports whether mcpmux has a console its children can share.
func hasConsole() bool {
	if getConsoleWindow.Find() != nil {
		return true
	}
	h, _, _ := getConsoleWindow.Call()
	return h != 0
}

// contain puts the suspended child of cmd in a new kill-on-close Job
// Object, then lets it run. A child that cannot be put in a job runs
// without (logged: it may outlive mcpmux); one that cannot be let run is
// killed, and the error says why.
func contain(cmd *exec.Cmd, logger *slog.Logger) error {
	pid := uint32(cmd.Process.Pid)
	if job, err := newJob(pid); err != nil {
		logger.Warn("upstream runs outside a job object; it may outlive mcpmux if mcpmux is killed", "pid", pid, "err", err)
	} else {
		jobs.Store(cmd, job)
	}
	if err := resume(pid); err != nil {
		killGroup(cmd, syscall.SIGKILL)
		_ = cmd.Process.Kill()
		return fmt.Errorf("starting the suspended child: %w", err)
	}
	return nil
}

// newJob makes a kill-on-close Job Object and puts process pid in it.
func newJob(pid uint32) (windows.Handle, error) {
	job, err := windows.CreateJobObject(nil, nil)
	if err != nil {
		return 0, fmt.Errorf("creating job object: %w", err)
	}
	info := windows.JOBOBJECT_EXTENDED_LIMIT_INFORMATION{
		BasicLimitInformation: windows.JOBOBJECT_BASIC_LIMIT_INFORMATION{LimitFlags: windows.JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE},
	}
	if _, err := windows.SetInformationJobObject(job, windows.JobObjectExtendedLimitInformation,
		uintptr(unsafe.Pointer(&info)), uint32(unsafe.Sizeof(info))); err != nil {
		_ = windows.CloseHandle(job)
		return 0, fmt.Errorf("setting kill-on-close: %w", err)
	}
	proc, err := windows.OpenProcess(windows.PROCESS_SET_QUOTA|windows.PROCESS_TERMINATE, false, pid)
	if err != nil {
		_ = windows.CloseHandle(job)
		return 0, fmt.Errorf("opening the child: %w", err)
	}
	defer windows.CloseHandle(proc)
	if err := windows.AssignProcessToJobObject(job, proc); err != nil {
		_ = windows.CloseHandle(job)
		return 0, fmt.Errorf("assigning the child to its job: %w", err)
	}
	return job, nil
}

// resume lets every thread of the suspended process pid run: a process
// made with CREATE_SUSPENDED has one, its main thread, whose handle
// os/exec does not keep.
func resume(pid uint32) error {
	snap, err := windows.CreateToolhelp32Snapshot(windows.TH32CS_SNAPTHREAD, 0)
	if err != nil {
		return fmt.Errorf("listing threads: %w", err)
	}
	defer windows.CloseHandle(snap)
	te := windows.ThreadEntry32{Size: uint32(unsafe.Sizeof(windows.ThreadEntry32{}))}
	resumed := 0
	for err = windows.Thread32First(snap, &te); err == nil; err = windows.Thread32Next(snap, &te) {
		if te.OwnerProcessID != pid {
			continue
		}
		th, err := windows.OpenThread(windows.THREAD_SUSPEND_RESUME, false, te.ThreadID)
		if err != nil {
			return fmt.Errorf("opening thread %d: %w", te.ThreadID, err)
		}
		_, err = windows.ResumeThread(th)
		_ = windows.CloseHandle(th)
		if err != nil {
			return fmt.Errorf("resuming thread %d: %w", te.ThreadID, err)
		}
		resumed++
	}
	if resumed == 0 {
		return errors.New("no thread of the child found to resume")
	}
	return nil
}

// killGroup asks the child's group to stop (SIGTERM, SIGINT: CTRL_BREAK to
// its process group, which reaches it where it shares mcpmux's console),
// or ends its job and everything in it (SIGKILL: TerminateJobObject, and
// the job's handle closed; the child alone if it has no job).
func killGroup(cmd *exec.Cmd, sig syscall.Signal) {
	if cmd.Process == nil {
		return
	}
	if sig != syscall.SIGKILL {
		_ = windows.GenerateConsoleCtrlEvent(windows.CTRL_BREAK_EVENT, uint32(cmd.Process.Pid))
		return
	}
	if job, ok := jobs.LoadAndDelete(cmd); ok {
		_ = windows.TerminateJobObject(job.(windows.Handle), 1)
		_ = windows.CloseHandle(job.(windows.Handle))
		return
	}
	_ = cmd.Process.Kill()
}
