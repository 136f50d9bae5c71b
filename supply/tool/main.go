// Command supplytool holds the small tools of the lab's Kubernetes supply:
//
//	supplytool image -root DIR -layout DIR -ref PATH:TAG [config flags]
//	    writes DIR as the one layer of an OCI image into an OCI image layout, reproducibly
//	supplytool push -layout DIR -registry HOST:PORT
//	    pushes every image of a layout to a registry over plain HTTP (distribution API v2)
//	supplytool serve -listen ADDR:PORT -root DIR
//	    serves DIR as static files over HTTP until SIGTERM or SIGINT
//	supplytool freeport
//	    prints a free TCP port on 127.0.0.1
package main

import (
	"fmt"
	"os"
)

func usage() {
	fmt.Fprintln(os.Stderr, "usage: supplytool image|push|serve|freeport [flags]   (supplytool CMD -h for the flags)")
	os.Exit(2)
}

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "image":
		err = imageMain(os.Args[2:])
	case "push":
		err = pushMain(os.Args[2:])
	case "serve":
		err = serveMain(os.Args[2:])
	case "freeport":
		err = freeportMain()
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "supplytool %s: ERROR: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}
