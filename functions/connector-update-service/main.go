// Command connector-update-service is Berth's PUT /service/{name} as a Lambda function.
package main

import "berth/functions/lambdafn"

func main() { lambdafn.Start("connector-update-service") }
