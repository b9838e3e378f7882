package main

import (
	"context"
	"fmt"

	"github.com/favad/favad/demo"
	favsync "github.com/favad/favad/sync"
)

// demo loads the demo data into an empty store without serving.
func (c *cli) demo(_ context.Context, args []string) error {
	fs := c.newFlagSet("demo", "[--data DIR]",
		"Load the Qazvin demo offices, one account per role and sample complaints into an\nempty store, and print the logins. A store that holds data is left alone.")
	data := fs.String("data", defaultData, "data directory")
	if err := c.parseFlags(fs, args); err != nil {
		return err
	}
	store, err := openStore(*data, favsync.Options{})
	if err != nil {
		return err
	}
	defer store.Close()
	res, err := demo.Load(store, demo.Province)
	if err != nil {
		return err
	}
	c.printDemo(res)
	if res.Loaded {
		fmt.Fprintf(c.stdout, "Start the server with: favad serve --data %s\n", *data)
	}
	return nil
}
