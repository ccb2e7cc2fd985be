package main

import "errors"

func runDiskFull(*env) error       { return errors.New("todo") }
func runFanout(*env) error         { return errors.New("todo") }
