// Command connector-list-services is Berth's GET /service as a Lambda function.
package main

import "berth/functions/lambdafn"

func main() { lambdafn.Start("connector-list-services") }
