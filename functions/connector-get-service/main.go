// Command connector-get-service is Berth's GET /service/{name} as a Lambda function.
package main

import "berth/functions/lambdafn"

func main() { lambdafn.Start("connector-get-service") }
