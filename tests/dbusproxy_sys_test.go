package tests

import "syscall"

func dpDupFD(fd int) (int, error) { return syscall.Dup(fd) }
