// Command connector-create-service is Berth's POST /service as a Lambda function.
package main

import "berth/functions/lambdafn"

func main() { lambdafn.Start("connector-create-service") }
