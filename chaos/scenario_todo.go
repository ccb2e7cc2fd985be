package main

import "errors"

func runFailover(*env) error       { return errors.New("todo") }
func runDiskFull(*env) error       { return errors.New("todo") }
func runFanout(*env) error         { return errors.New("todo") }
