// Command connector-service-status is Berth's GET /service/{name}/status as a Lambda function.
package main

import "berth/functions/lambdafn"

func main() { lambdafn.Start("connector-service-status") }
