// Command lint checks that an OpenAPI document loads and is valid, and that
// every operation documents its roles and its error responses.
package main

import (
	"context"
	"fmt"
	"os"
	"sort"

	"github.com/getkin/kin-openapi/openapi3"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: lint openapi.yaml")
		os.Exit(2)
	}
	if problems := lint(os.Args[1]); len(problems) > 0 {
		for _, p := range problems {
			fmt.Fprintln(os.Stderr, "speclint:", p)
		}
		os.Exit(1)
	}
	fmt.Println("speclint: ok")
}

func lint(path string) []string {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromFile(path)
	if err != nil {
		return []string{err.Error()}
	}
	if err := doc.Validate(context.Background()); err != nil {
		return []string{err.Error()}
	}
	var problems []string
	paths := doc.Paths.InMatchingOrder()
	sort.Strings(paths)
	for _, p := range paths {
		for method, op := range doc.Paths.Value(p).Operations() {
			where := method + " " + p
			if op.OperationID == "" {
				problems = append(problems, where+": no operationId")
			}
			public := op.Security != nil && len(*op.Security) == 0
			if _, ok := op.Extensions["x-roles"]; !ok && !public {
				problems = append(problems, where+": no x-roles")
			}
			if op.Responses.Value("500") == nil {
				problems = append(problems, where+": no 500 response")
			}
			if !public && op.Responses.Value("401") == nil {
				problems = append(problems, where+": authenticated but no 401 response")
			}
		}
	}
	return problems
}
