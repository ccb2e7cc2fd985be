package main

import "errors"

func runFanout(*env) error         { return errors.New("todo") }
