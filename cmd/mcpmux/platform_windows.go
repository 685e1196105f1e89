package main

// keeperNeeded: on Windows each upstream runs in a kill-on-close Job
// Object (upstream/process_windows.go), which ends it with mcpmux however
// mcpmux ends; there are no process groups for a keeper to hold.
const keeperNeeded = false

// reloadOtherwise says how to reload the configuration without the watch:
// Windows has no SIGHUP.
const reloadOtherwise = "restart mcpmux to reload it"
